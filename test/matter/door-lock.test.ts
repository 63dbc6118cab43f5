import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockfw } from '../../scripts/chaos/lock-process.ts';
import { connectWhenReady } from '../helpers/lockfw-process.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';
import { startController } from './controller-client.ts';
import { privateNetwork } from './private-network.ts';
import {
  codeNames,
  doorLockOf,
  LOCK_STATE,
  line,
  NODE_START_MS,
  PORT,
  pin,
  refusal,
  STATUS,
  startLock,
  stopLock,
  waitFor,
} from './rig.ts';

// The independent client: matter.js's own controller (@project-chip/matter.js), commissioning
// `lockfw run --hal sim --matter` with the setup code lockfw printed. Both run in a network
// namespace of the test's own with only `lo`: no Matter or mDNS packet leaves the machine.
// The controller is a child process there (test/matter/controller-process.ts), driven by JSON
// lines; the lock's store, CLI and control socket are files and reached from here.

/**
 * Whether `text` holds the PIN as digits of their own or as the hex of its bytes (matter.js
 * stores byte arrays as hex). Digits inside a longer hex or decimal run (a key, a certificate)
 * are chance, not the PIN: 16 random bytes hold "2468" once in a few thousand.
 */
function holdsPin(text: string, digits: string): boolean {
  const hex = Buffer.from(digits).toString('hex');
  return new RegExp(`(?<![0-9A-Za-z])${digits}(?![0-9A-Za-z])|${hex}`, 'i').test(text);
}

function filesUnder(dir: string): Array<{ path: string; directory: boolean }> {
  const found = [{ path: dir, directory: true }];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else found.push({ path, directory: false });
  }
  return found;
}

describe('lockfw run --matter: a Matter Door Lock, commissioned by matter.js’s controller', () => {
  // Two lockfw boots, two commissionings and a restart on a shared 2-core machine: give it room.
  it('pairs with the printed code, opens on the right PIN only, keeps fabric and users across a restart', {
    timeout: 300_000,
  }, async () => {
    const dir = tempDir('tumbler-matter-');
    const data = join(dir, 'data');
    const configFile = join(dir, 'config.json');
    // mDNS on the namespace's lo: matter.js skips loopback interfaces unless one is named.
    writeFileSync(configFile, JSON.stringify({ matter: { port: PORT, interface: 'lo' } }));
    const runArgs = ['--data', data, '--config', configFile, '--matter'];
    const network = await privateNetwork();

    let lock = startLock(network, [...runArgs, '--init']);
    const pairing = await waitFor('the pairing line', () => line(lock, 'matter pairing'), NODE_START_MS);
    expect(pairing.manual_code).toMatch(/^\d{11}$/);
    expect(pairing.qr_payload).toMatch(/^MT:/);
    const added = await lockfw(['codes', 'add', '--data', data, '--name', 'front', '--pin-stdin'], '2468\n');
    expect(added.status, added.stderr).toBe(0);

    // The controller: its own storage in the temp dir, nothing read from argv or the environment.
    const controller = await startController(network, join(dir, 'controller'));
    await controller.request('start', { name: 'first', label: 'tumbler test' });
    await controller
      .request('commission', { name: 'first', manualCode: pairing.manual_code, port: PORT })
      .catch((error: Error) => {
        throw new Error(
          `commissioning failed: ${error.message}\nlockfw said:\n${lock.output()}\ncontroller said:\n${controller.stderr()}`,
        );
      });
    const doorLock = doorLockOf(controller);
    const alarms = async () =>
      (await doorLock.events()).filter((e) => e.name === 'doorLockAlarm').map((e) => e.data.alarmCode);
    await controller.request('connect');

    // A second fabric: the printed code no longer admits anyone (the window closed at the first
    // pairing); a window the first controller opens admits it, with the new code.
    await controller.request('start', { name: 'second', label: 'second' });
    const commissionSecond = (manualCode: unknown) =>
      controller.request('commission', { name: 'second', manualCode, port: PORT });
    await expect(commissionSecond(pairing.manual_code)).rejects.toThrow();
    await commissionSecond(await controller.request('openWindow'));
    expect(await controller.request('commissionedNodes', { name: 'second' })).toBe(1);
    await controller.request('close', { name: 'second' });
    const lockState = () => doorLock.read('lockState');

    expect(await lockState()).toBe(LOCK_STATE.Locked);
    expect(await doorLock.read('requirePinForRemoteOperation')).toBe(true);
    expect(await doorLock.read('wrongCodeEntryLimit')).toBe(5);

    // No PIN: refused (RequirePINforRemoteOperation); a wrong PIN: refused; the bolt stays.
    expect(await refusal(doorLock.invoke('unlockDoor'))).toBe(STATUS.Failure);
    expect(await refusal(doorLock.invoke('unlockDoor', { pinCode: pin('1357') }))).toBe(STATUS.Failure);
    expect(await lockState()).toBe(LOCK_STATE.Locked);

    // The keypad code opens through Matter, judged by the same decision.
    await doorLock.invoke('unlockDoor', { pinCode: pin('2468') });
    await waitFor('unlocked', async () => ((await lockState()) === LOCK_STATE.Unlocked ? true : undefined));
    await doorLock.invoke('lockDoor');
    await waitFor('locked', async () => ((await lockState()) === LOCK_STATE.Locked ? true : undefined));

    // A controller may not rewrite what the firmware owns.
    expect(await refusal(doorLock.write('wrongCodeEntryLimit', 50))).toBe(STATUS.UnsupportedWrite);
    expect(await doorLock.read('wrongCodeEntryLimit')).toBe(5);

    // A Matter user with a PIN becomes a Tumbler code in the same store.
    await doorLock.invoke('setUser', {
      operationType: 0,
      userIndex: 1,
      userName: 'Alice',
      userUniqueId: null,
      userStatus: null,
      userType: null,
      credentialRule: null,
    });
    const set = (await doorLock.invoke('setCredential', {
      operationType: 0,
      credential: { credentialType: 1, credentialIndex: 1 },
      credentialData: pin('97531'),
      userIndex: 1,
      userStatus: null,
      userType: null,
    })) as { status: number };
    expect(set.status).toBe(0);
    expect(await codeNames(data)).toEqual(['front', 'Alice (Matter user 1) PIN 1']);

    // Malformed or clashing: Matter statuses, nothing changes.
    const before = await codeNames(data);
    const letters = (await doorLock.invoke('setCredential', {
      operationType: 0,
      credential: { credentialType: 1, credentialIndex: 2 },
      credentialData: pin('12ab'),
      userIndex: null,
      userStatus: null,
      userType: null,
    })) as { status: number };
    expect(letters.status).toBe(STATUS.InvalidCommand);
    const duplicate = (await doorLock.invoke('setCredential', {
      operationType: 0,
      credential: { credentialType: 1, credentialIndex: 2 },
      credentialData: pin('2468'),
      userIndex: null,
      userStatus: null,
      userType: null,
    })) as { status: number };
    expect(duplicate.status).toBe(STATUS.Failure);
    expect(
      await refusal(
        doorLock.invoke('setUser', {
          operationType: 0,
          userIndex: 60_000, // beyond NumberOfTotalUsersSupported (the code capacity, 1000)
          userName: 'x',
          userUniqueId: null,
          userStatus: null,
          userType: null,
          credentialRule: null,
        }),
      ),
    ).toBe(STATUS.InvalidCommand);
    expect(await refusal(doorLock.invoke('unlockWithTimeout', { timeout: 999, pinCode: pin('97531') }))).toBe(
      STATUS.ConstraintError,
    );
    expect(await codeNames(data)).toEqual(before);
    expect(await lockState()).toBe(LOCK_STATE.Locked);

    // Alice's PIN opens, and LockOperation names her user index.
    await doorLock.invoke('unlockDoor', { pinCode: pin('97531') });
    await waitFor('unlocked by Alice', async () =>
      (await lockState()) === LOCK_STATE.Unlocked ? true : undefined,
    );
    await waitFor('LockOperation naming user 1', async () =>
      (await doorLock.events()).some((event) => event.name === 'lockOperation' && event.data.userIndex === 1)
        ? true
        : undefined,
    );
    const errors = (await doorLock.events()).filter((event) => event.name === 'lockOperationError');
    expect(errors.map((event) => event.data.operationError)).toEqual([1, 1]); // InvalidCredential: no PIN, wrong PIN
    expect(
      (await doorLock.events()).some(
        (event) =>
          event.name === 'lockUserChange' && event.data.lockDataType === 6 && event.data.userIndex === 1,
      ),
    ).toBe(true); // PIN added for user 1

    // Restart: the fabric (no pairing line, the controller reconnects) and the user survive.
    await stopLock(lock);
    lock = startLock(network, runArgs);
    expect(
      (await waitFor('the restarted node', () => line(lock, 'matter node commissioned'), NODE_START_MS))
        .fabrics,
    ).toBe(2);
    expect(line(lock, 'matter pairing')).toBeUndefined();
    await controller.request('connect', { afterRestart: true });
    const user = (await doorLock.invoke('getUser', { userIndex: 1 })) as {
      userName: string;
      credentials: Array<{ credentialIndex: number }>;
    };
    expect(user.userName).toBe('Alice');
    expect(user.credentials.map((c) => c.credentialIndex)).toEqual([1]);
    await waitFor('relocked', async () => ((await lockState()) === LOCK_STATE.Locked ? true : undefined));
    const control = await connectWhenReady(lock, join(data, 'sim.sock'));
    onCleanup(() => control.close());

    // The keypad lockout holds for Matter too: five wrong PINs raise WrongCodeEntryLimit, and
    // then even Alice is refused (Restricted) until the lockout time has passed (virtual time).
    for (let i = 0; i < 5; i++)
      expect(await refusal(doorLock.invoke('unlockDoor', { pinCode: pin('0000') }))).toBe(STATUS.Failure);
    await waitFor('the wrong-code alarm', async () => ((await alarms()).includes(4) ? true : undefined));
    expect(await refusal(doorLock.invoke('unlockDoor', { pinCode: pin('97531') }))).toBe(STATUS.Failure);
    await waitFor('a Restricted refusal', async () =>
      (await doorLock.events()).some((e) => e.name === 'lockOperationError' && e.data.operationError === 3)
        ? true
        : undefined,
    );
    expect(await lockState()).toBe(LOCK_STATE.Locked);
    await control.request('advance', { ms: 31_000 });
    await doorLock.invoke('unlockDoor', { pinCode: pin('97531') });
    await waitFor('unlocked after the lockout', async () =>
      (await lockState()) === LOCK_STATE.Unlocked ? true : undefined,
    );

    // A jammed motor: LockState NotFullyLocked and the LockJammed alarm.
    await control.request('jam');
    await doorLock.invoke('lockDoor');
    await control.request('advance', { ms: 20_000 });
    await waitFor('the jam alarm', async () => ((await alarms()).includes(0) ? true : undefined));
    expect(await lockState()).toBe(0);
    await control.request('unjam');

    // OperatingMode follows the firmware's mode.
    await control.request('set_mode', { mode: 'vacation' });
    await waitFor('vacation mode', async () =>
      (await doorLock.read('operatingMode')) === 1 ? true : undefined,
    );

    // ClearUser removes her code from the store.
    await doorLock.invoke('clearUser', { userIndex: 1 });
    expect(await codeNames(data)).toEqual(['front']);
    await stopLock(lock);

    // No PIN in the logs or in the fabric data; the fabric data is owner-only.
    for (const secret of ['97531', '2468', '1357']) expect(lock.output()).not.toContain(secret);
    for (const file of filesUnder(join(data, 'matter'))) {
      const mode = statSync(file.path).mode & 0o777;
      expect(mode, file.path).toBe(file.directory ? 0o700 : 0o600);
      if (!file.directory) {
        const text = readFileSync(file.path, 'latin1');
        for (const secret of ['97531', '2468']) expect(holdsPin(text, secret), file.path).toBe(false);
      }
    }
  });
});
