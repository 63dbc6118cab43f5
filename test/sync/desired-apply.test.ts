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

describe('desired/codes: adopting a code added at the lock keeps its PIN', () => {
  async function lockWithLocal() {
    const lock = await SimLock.create({ config: { deviceId: 'front' } });
    open.push(lock);
    const now = lock.firmware.manager.wallNow();
    const added = lock.firmware.admin.add({ name: 'cleaner', pin: '246810' }, 'test', now);
    if (!added.ok) throw new Error(added.message);
    return { lock, localId: added.code.id };
  }
  const adoptedRows = (lock: SimLock) =>
    lock.firmware.audit.after(0).filter((row) => row.type === 'code_adopted');

  it('adopt turns the local code into the ref, keep_pin declares it again, dropping the ref deletes it', async () => {
    const { lock, localId } = await lockWithLocal();
    expect(await outcomeOf(lock, '246810')).toBe('granted');
    const first = apply(lock, 1, [{ ref: 'ac-1', name: 'cleaner (managed)', adopt: localId }]);
    expect(first.applied && first.report.codes).toEqual([
      { ref: 'ac-1', name: 'cleaner (managed)', status: 'set' },
    ]);
    const adopted = lock.firmware.codes.get(localId)!;
    expect(adopted).toMatchObject({ source: 'gateway', ref: 'ac-1', name: 'cleaner (managed)', uses: 1 });
    expect(await outcomeOf(lock, '246810')).toBe('granted');
    expect(adoptedRows(lock).map((row) => row.data)).toEqual([
      { code_id: localId, code_name: 'cleaner (managed)', ref: 'ac-1', by: 'gateway' },
    ]);

    // The same entry again (a gateway that has not yet seen the report) changes nothing more.
    const again = apply(lock, 2, [{ ref: 'ac-1', name: 'cleaner (managed)', adopt: localId }]);
    expect(again.applied && again.report.codes[0]?.status).toBe('set');
    const window = { kind: 'time_bound', starts_at: '2030-01-01T00:00:00Z', ends_at: '2030-01-02T00:00:00Z' };
    const kept = apply(lock, 3, [{ ref: 'ac-1', name: 'cleaner', keep_pin: true, ...window }]);
    expect(kept.applied && kept.report.codes).toEqual([{ ref: 'ac-1', name: 'cleaner', status: 'pending' }]);
    expect(await outcomeOf(lock, '246810')).toBe('not_yet_active');
    apply(lock, 4, [{ ref: 'ac-1', name: 'cleaner', keep_pin: true }]);
    expect(await outcomeOf(lock, '246810')).toBe('granted');
    expect(adoptedRows(lock)).toHaveLength(1);

    apply(lock, 5, []);
    expect(lock.firmware.codes.get(localId)).toBeUndefined();
    expect(await outcomeOf(lock, '246810')).toBe('unknown_code');
  });

  it.each([
    ['an unknown id', () => ({ adopt: 999 }), 'not_found'],
    ['a gateway code of another ref', () => ({ adopt: 'gateway' }), 'not_local'],
    ['a backup code', () => ({ adopt: 'backup' }), 'not_local'],
    ['keep_pin for a ref the lock does not hold', () => ({ keep_pin: true }), 'not_found'],
    ['adopt with a pin', () => ({ adopt: 'local', pin: '135790' }), 'invalid_code'],
    ['adopt and keep_pin', () => ({ adopt: 'local', keep_pin: true }), 'invalid_code'],
    ['adopt with a malformed id', () => ({ adopt: '7' }), 'invalid_code'],
    ['keep_pin that is not true', () => ({ keep_pin: 1 }), 'invalid_code'],
    ['adopt with a bad window', () => ({ adopt: 'local', kind: 'time_bound' }), 'invalid_window'],
    ['adopt switching on a PIN another enabled code has', () => ({ adopt: 'disabled' }), 'duplicate_code'],
  ])('%s is refused for that entry and changes nothing', async (_label, make, error) => {
    const { lock, localId } = await lockWithLocal();
    const { admin, codes } = lock.firmware;
    const now = lock.firmware.manager.wallNow();
    // A switched-off local code whose PIN the gateway code 'other' has.
    const twin = admin.add({ name: 'twin', pin: '111222' }, 'test', now);
    if (!twin.ok || !admin.setEnabled(twin.code.id, false, 'test', now).ok) throw new Error('setup');
    apply(lock, 1, [{ ref: 'other', name: 'other', pin: '111222' }]);
    const gatewayId = codes.gatewayCodes().get('other')!.id;
    const backup = admin.addBackup('333444', 'test', now);
    if (!backup.ok) throw new Error('setup');
    const ids: Record<string, number> = {
      gateway: gatewayId,
      backup: backup.code.id,
      local: localId,
      disabled: twin.code.id,
    };
    const entry = Object.fromEntries(
      Object.entries(make()).map(([key, value]) => [
        key,
        key === 'adopt' && typeof value === 'string' && value in ids ? ids[value] : value,
      ]),
    );
    const before = codes.list();
    const outcome = apply(lock, 2, [
      { ref: 'other', name: 'other', pin: '111222' },
      { ref: 'ac-2', name: 'adopted', ...entry },
    ]);
    expect(outcome.applied && outcome.report.codes[1]).toEqual({
      ref: 'ac-2',
      name: 'adopted',
      status: 'error',
      error,
      message: expect.any(String),
    });
    expect(codes.list().map(({ updatedAt: _u, ...code }) => code)).toEqual(
      before.map(({ updatedAt: _u, ...code }) => code),
    );
    expect(adoptedRows(lock)).toHaveLength(0);
    expect(await outcomeOf(lock, '246810')).toBe('granted');
  });

  it('two entries adopting one code: the second is refused', async () => {
    const { lock, localId } = await lockWithLocal();
    const outcome = apply(lock, 1, [
      { ref: 'a', name: 'first', adopt: localId },
      { ref: 'b', name: 'second', adopt: localId },
    ]);
    expect(outcome.applied && outcome.report.codes.map((c) => c.error ?? c.status)).toEqual([
      'set',
      'not_local',
    ]);
    expect(lock.firmware.codes.get(localId)).toMatchObject({ ref: 'a', source: 'gateway' });
  });
});
