import { describe, expect, it } from 'vitest';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { onCleanup } from '../helpers/tmp.ts';

/** The real firmware on the simulated board, with every audit row it writes. */
async function lockWithInputs(config: Record<string, unknown> = {}) {
  const lock = await SimLock.create({ startEpochMs: Date.UTC(2026, 5, 1, 8), travelMs: 100, config });
  onCleanup(() => lock.close());
  const rows: Array<{ type: string; data: Record<string, unknown> }> = [];
  const beeps: string[] = [];
  lock.firmware.manager.onEvent((event) => {
    if (event.type === 'audit') rows.push({ type: event.row.type, data: event.row.data });
  });
  const beep = lock.hal.indicator.beep.bind(lock.hal.indicator);
  lock.hal.indicator.beep = (pattern) => {
    beeps.push(pattern);
    beep(pattern);
  };
  return { lock, rows, beeps };
}

describe('the board inputs, wired into the lock', () => {
  it('request to exit opens the door as its own audited source, even in privacy mode', async () => {
    const { lock, rows } = await lockWithInputs();
    await lock.firmware.manager.setMode('privacy', 'test');
    lock.hal.inputs.exitButton.set(true);
    await lock.advance(200);
    lock.hal.inputs.exitButton.set(false);
    await lock.advance(10);
    expect(rows.map((row) => row.type)).toContain('exit_request');
    const exit = rows.findIndex((row) => row.type === 'exit_request');
    const unlocked = rows.findIndex((row) => row.type === 'lock_state' && row.data.state === 'unlocked');
    expect(unlocked).toBeGreaterThan(exit); // audited before the bolt moved
    expect(rows.filter((row) => row.type === 'exit_request')).toHaveLength(1); // the release opens nothing
  });

  it('audits the tamper switch both ways and sounds the alarm when the housing opens', async () => {
    const { lock, rows, beeps } = await lockWithInputs();
    expect(lock.firmware.manager.status().tamper).toBe('closed');
    lock.hal.inputs.tamper.set(true);
    await lock.advance(10);
    expect(lock.firmware.manager.status().tamper).toBe('open');
    lock.hal.inputs.tamper.set(false);
    await lock.advance(10);
    expect(rows.filter((row) => row.type === 'tamper').map((row) => row.data)).toEqual([
      { state: 'open' },
      { state: 'closed' },
    ]);
    expect(beeps).toEqual(['alarm']);
  });

  it('audits a power failure and its end, and shows it in status', async () => {
    const { lock, rows } = await lockWithInputs();
    expect(lock.firmware.manager.status().power).toBe('ok');
    lock.hal.inputs.powerFail.set(true);
    await lock.advance(10);
    expect(lock.firmware.manager.status().power).toBe('failing');
    lock.hal.inputs.powerFail.set(false);
    await lock.advance(10);
    expect(lock.firmware.manager.status().power).toBe('ok');
    expect(rows.filter((row) => row.type === 'power').map((row) => row.data)).toEqual([
      { state: 'failing' },
      { state: 'ok' },
    ]);
  });

  it('raises the door-held-open alarm once the door stays open past doorHeldOpenSeconds', async () => {
    const { lock, rows, beeps } = await lockWithInputs({ doorHeldOpenSeconds: 30 });
    lock.hal.inputs.exitButton.set(true);
    await lock.advance(200);
    lock.hal.door.set('open');
    await lock.advance(29_000);
    expect(rows.some((row) => row.type === 'door_held_open')).toBe(false);
    await lock.advance(1_000);
    expect(rows.filter((row) => row.type === 'door_held_open').map((row) => row.data)).toEqual([
      { seconds: 30 },
    ]);
    expect(beeps).toContain('alarm');
    // Closed in time, no alarm.
    lock.hal.door.set('closed');
    await lock.advance(10);
    lock.hal.door.set('open');
    await lock.advance(10_000);
    lock.hal.door.set('closed');
    await lock.advance(60_000);
    expect(rows.filter((row) => row.type === 'door_held_open')).toHaveLength(1);
  });

  it("judges a Wiegand number as a keypad entry: a PIN's frame opens, audited with source wiegand", async () => {
    const { lock, rows } = await lockWithInputs();
    lock.firmware.admin.add({ name: 'reader', pin: '258025' }, 'test', Date.UTC(2026, 5, 1, 8));
    lock.hal.wiegand.send(258025, 26);
    await lock.advance(200);
    const decisions = rows.filter((row) => row.type === 'decision').map((row) => row.data);
    expect(decisions).toEqual([expect.objectContaining({ outcome: 'granted', source: 'wiegand' })]);
    expect(rows.some((row) => row.type === 'lock_state' && row.data.state === 'unlocked')).toBe(true);
    lock.hal.wiegand.send(999_999, 34);
    await lock.advance(200);
    expect(rows.filter((row) => row.type === 'decision').map((row) => row.data.outcome)).toEqual([
      'granted',
      'denied',
    ]);
  });

  it('refuses a bad Wiegand frame without a decision, audited once per interval however many come', async () => {
    const { lock, rows } = await lockWithInputs();
    const noisy = [1, 0, 1] as const;
    for (let i = 0; i < 5; i++) {
      lock.hal.wiegand.sendBits([...noisy]);
      await lock.advance(10);
    }
    expect(rows.some((row) => row.type === 'decision')).toBe(false);
    expect(rows.filter((row) => row.type === 'wiegand_refused').map((row) => row.data)).toEqual([
      expect.objectContaining({ count: 1, bits: 3, reason: 'length' }),
    ]);
    await lock.advance(60_000);
    expect(rows.filter((row) => row.type === 'wiegand_refused').map((row) => row.data.count)).toEqual([1, 4]);
  });

  it('never raises it when doorHeldOpenSeconds is 0 (the default)', async () => {
    const { lock, rows } = await lockWithInputs();
    lock.hal.door.set('open');
    await lock.advance(3_600_000);
    expect(rows.some((row) => row.type === 'door_held_open')).toBe(false);
  });
});
