import { describe, expect, it } from 'vitest';
import { MatterUsers } from '../../firmware/matter/users.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { onCleanup } from '../helpers/tmp.ts';

async function lockWithUsers() {
  const lock = await SimLock.create({ travelMs: 0 });
  onCleanup(() => lock.close());
  const users = new MatterUsers(lock.firmware, 10);
  const alice = {
    index: 1,
    name: 'Alice',
    uniqueId: null,
    enabled: true,
    type: 0 as const,
    creatorFabric: 1,
  };
  expect(users.addUser(alice).ok).toBe(true);
  return { lock, users };
}

describe('Matter users onto Tumbler codes', () => {
  it('a refused PIN change keeps the old PIN in place', async () => {
    const { lock, users } = await lockWithUsers();
    const { codes, admin, manager } = lock.firmware;
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    expect(admin.add({ name: 'other', pin: '2222' }, 'test', manager.wallNow()).ok).toBe(true);
    const before = codes.list();
    expect(users.replacePin(1, '2222', 1)).toMatchObject({ ok: false, error: 'duplicate' });
    expect(codes.list()).toEqual(before);
    expect(codes.findByPin('1111')?.name).toBe('Alice (Matter user 1) PIN 1');
    expect(users.findPin(1)?.slot.codeId).toBe(codes.findByPin('1111')?.id);
    expect(users.replacePin(1, '3333', 1).ok).toBe(true);
    expect(codes.findByPin('1111')).toBeUndefined();
    expect(users.findPin(1)?.slot.codeId).toBe(codes.findByPin('3333')?.id);
  });

  it('disabling a user disables its code; enabling it again is refused while its PIN is taken', async () => {
    const { lock, users } = await lockWithUsers();
    const { codes, admin, manager } = lock.firmware;
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    expect(users.modifyUser(1, { enabled: false }, 1).ok).toBe(true);
    expect(codes.list().map((c) => [c.name, c.enabled])).toEqual([['Alice (Matter user 1) PIN 1', false]]);
    expect(admin.add({ name: 'other', pin: '1111' }, 'test', manager.wallNow()).ok).toBe(true);
    expect(users.modifyUser(1, { enabled: true }, 1)).toMatchObject({ ok: false, error: 'duplicate' });
    expect(users.find(1)?.enabled).toBe(false);
    expect(codes.list().find((c) => c.name.startsWith('Alice'))?.enabled).toBe(false);
  });

  it('a code removed elsewhere leaves its slot empty, and user types map onto roles and kinds', async () => {
    const { lock, users } = await lockWithUsers();
    const { codes, admin, manager } = lock.firmware;
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    admin.remove(codes.findByPin('1111')!.id, 'test', manager.wallNow());
    expect(users.find(1)?.pins).toEqual([]);
    expect(users.findPin(1)).toBeUndefined();
    for (const [index, type, role, kind] of [
      [2, 4, 'non_access', 'ongoing'],
      [3, 5, 'duress', 'ongoing'],
      [4, 6, 'standard', 'one_time'],
    ] as const) {
      expect(
        users.addUser({ index, name: '', uniqueId: null, enabled: true, type, creatorFabric: 1 }).ok,
      ).toBe(true);
      const added = users.addPin(index, index, `${index}${index}${index}${index}5`, 1);
      expect(added.ok && [added.code.role, added.code.kind]).toEqual([role, kind]);
    }
    expect(users.addPin(2, 9, '12a4', 1)).toMatchObject({ ok: false, error: 'invalid' });
  });
});
