import { afterEach, describe, expect, it } from 'vitest';
import { SimLock } from '../../keypad-sim/sim-lock.ts';

const open: SimLock[] = [];
afterEach(async () => {
  for (const lock of open.splice(0)) await lock.close();
});

async function lock() {
  const sim = await SimLock.create({ config: { deviceId: 'front' } });
  open.push(sim);
  return sim;
}

async function outcomeOf(sim: SimLock, pin: string) {
  const record = await sim.firmware.manager.submitEntry(pin);
  return record.decision.outcome === 'granted' ? 'granted' : record.decision.reason;
}

function add(sim: SimLock, spec: Record<string, unknown>) {
  const added = sim.firmware.admin.add(spec as never, 'test', sim.firmware.manager.wallNow());
  if (!added.ok) throw new Error(added.message);
  return added.code;
}

/** What the codes table itself holds for a code (not what get/list derive). */
function storedUses(sim: SimLock, id: number) {
  return sim.firmware.db
    .prepare<[number], { uses: number; last_used_at: number | null }>(
      'SELECT uses, last_used_at FROM codes WHERE id = ?',
    )
    .get(id)!;
}

describe('use counts: written only for codes that count uses', () => {
  it('a grant of a code without a limit writes no count; its uses are its granted decision rows', async () => {
    const sim = await lock();
    const code = add(sim, { name: 'cleaner', pin: '246810' });
    expect(await outcomeOf(sim, '246810')).toBe('granted');
    expect(await outcomeOf(sim, '246810')).toBe('granted');
    expect(storedUses(sim, code.id)).toEqual({ uses: 0, last_used_at: null });
    const grants = sim.firmware.audit
      .after(0)
      .filter((row) => row.type === 'decision' && row.data.code_id === code.id);
    expect(grants).toHaveLength(2);
    const shown = sim.firmware.codes.get(code.id)!;
    expect(shown).toMatchObject({ uses: 2, firstUsedAt: grants[0]!.at, lastUsedAt: grants[1]!.at });
    expect(sim.firmware.codes.list().find((c) => c.id === code.id)).toMatchObject({ uses: 2 });
  });

  it('a counted code has its count in the codes table, committed with the grant', async () => {
    const sim = await lock();
    const code = add(sim, { name: 'courier', pin: '8642', max_uses: 2 });
    expect(await outcomeOf(sim, '8642')).toBe('granted');
    expect(storedUses(sim, code.id).uses).toBe(1);
    expect(await outcomeOf(sim, '8642')).toBe('granted');
    expect(await outcomeOf(sim, '8642')).toBe('used_up');
    expect(sim.firmware.codes.get(code.id)!.uses).toBe(2);
  });

  it('a removed code’s reused id does not inherit its uses', async () => {
    const sim = await lock();
    const first = add(sim, { name: 'old', pin: '111222' });
    expect(await outcomeOf(sim, '111222')).toBe('granted');
    sim.firmware.admin.remove(first.id, 'test', sim.firmware.manager.wallNow());
    await sim.advance(1000);
    const second = add(sim, { name: 'new', pin: '333444' });
    expect(second.id).toBe(first.id);
    expect(sim.firmware.codes.get(second.id)!.uses).toBe(0);
  });

  it('a limit set later starts from the uses already made, so it never reopens them', async () => {
    const sim = await lock();
    const code = add(sim, { name: 'cleaner', pin: '246810' });
    expect(await outcomeOf(sim, '246810')).toBe('granted');
    expect(await outcomeOf(sim, '246810')).toBe('granted');
    const outcome = sim.firmware.admin.reschedule(
      code.id,
      { kind: 'ongoing', startsAt: null, endsAt: null, schedule: null, maxUses: 2 },
      'test',
      sim.firmware.manager.wallNow(),
    );
    expect(outcome).toMatchObject({ ok: true });
    expect(storedUses(sim, code.id).uses).toBe(2);
    expect(await outcomeOf(sim, '246810')).toBe('used_up');
  });
});
