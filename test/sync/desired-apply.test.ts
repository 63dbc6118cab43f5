import { afterEach, describe, expect, it } from 'vitest';
import { type ApplyOutcome, applyDesiredCodes, INITIAL_SYNC } from '../../firmware/sync/desired.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';

const open: SimLock[] = [];
afterEach(async () => {
  for (const lock of open.splice(0)) await lock.close();
});

/** Applies a desired/codes document on the lock's SQLite file, as the sync handler does. */
function apply(lock: SimLock, revision: number, codes: Array<Record<string, unknown>>): ApplyOutcome {
  const { firmware } = lock;
  return applyDesiredCodes(
    {
      db: firmware.db,
      codes: firmware.codes,
      audit: firmware.audit,
      state: firmware.state,
      deviceId: 'front',
      pinKey: new Uint8Array(32),
      capacity: firmware.config.codeCapacity,
    },
    { revision, issued_at: new Date(firmware.manager.wallNow()).toISOString(), codes } as never,
    firmware.manager.wallNow(),
  );
}

async function outcomeOf(lock: SimLock, pin: string) {
  const record = await lock.firmware.manager.submitEntry(pin);
  return record.decision.outcome === 'granted' ? 'granted' : record.decision.reason;
}

describe('desired/codes: a refused new definition never keeps the old one opening', () => {
  it.each([
    ['a PIN that is too short', { pin: '12' }, 'invalid_code'],
    ['an unknown role', { role: 'admin' }, 'invalid_code'],
    [
      'a window that ends before it starts',
      { starts_at: '2030-01-02T00:00:00Z', ends_at: '2030-01-01T00:00:00Z' },
      'invalid_window',
    ],
    ['a PIN another enabled code has', { pin: '555111' }, 'duplicate_code'],
  ])('%s: the code is switched off and the error reported', async (_label, change, error) => {
    const lock = await SimLock.create({ config: { deviceId: 'front' } });
    open.push(lock);
    lock.firmware.admin.add({ name: 'local', pin: '555111' }, 'test', lock.firmware.manager.wallNow());
    const first = apply(lock, 1, [{ ref: 'g1', name: 'guest', pin: '424242' }]);
    expect(first.applied && first.report.codes).toEqual([{ ref: 'g1', name: 'guest', status: 'set' }]);
    expect(await outcomeOf(lock, '424242')).toBe('granted');

    const second = apply(lock, 2, [{ ref: 'g1', name: 'guest', pin: '424242', ...change }]);
    expect(second.applied && second.report.codes).toEqual([
      { ref: 'g1', name: 'guest', status: 'error', error, message: expect.any(String), previous: 'disabled' },
    ]);
    expect(await outcomeOf(lock, '424242')).toBe('disabled');
    const sync = lock.firmware.state.get('sync', INITIAL_SYNC);
    expect(sync.reported?.codes[0]).toMatchObject({ status: 'error', previous: 'disabled' });

    // A later valid definition switches it on again.
    apply(lock, 3, [{ ref: 'g1', name: 'guest', pin: '424242' }]);
    expect(await outcomeOf(lock, '424242')).toBe('granted');
  });

  it('a refused entry for a new ref changes nothing else', async () => {
    const lock = await SimLock.create({ config: { deviceId: 'front' } });
    open.push(lock);
    const outcome = apply(lock, 1, [
      { ref: 'ok', name: 'fine', pin: '777123' },
      { ref: 'bad', name: 'broken', pin: 'x' },
    ]);
    expect(outcome.applied && outcome.report.codes).toEqual([
      { ref: 'ok', name: 'fine', status: 'set' },
      { ref: 'bad', name: 'broken', status: 'error', error: 'invalid_code', message: expect.any(String) },
    ]);
    expect(await outcomeOf(lock, '777123')).toBe('granted');
  });
});
