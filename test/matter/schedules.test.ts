import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveTechKey, mintTechToken } from '../../firmware/diag/tech-token.ts';
import { createProvisioning, writeProvisioning } from '../../firmware/provisioning.ts';
import { lockdiag, PtyPair } from '../diag/pty.ts';
import { connectWhenReady } from '../helpers/lockfw-process.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';
import { startController } from './controller-client.ts';
import { privateNetwork } from './private-network.ts';
import {
  commission,
  doorLockOf,
  LOCK_STATE,
  line,
  lines,
  listCodes,
  NODE_START_MS,
  OPERATION_ERROR,
  PORT,
  pin,
  refusal,
  STATUS,
  startLock,
  stopLock,
  waitFor,
} from './rig.ts';

// Week-day and year-day schedules, a second fabric's refused changes, and both factory resets
// (Matter's own when the last fabric leaves, and the lock's), against `lockfw run --hal sim
// --matter` with matter.js's controller in the test's private network (see door-lock.test.ts).

/** A local wall time as epoch seconds: how matter.js carries a YearDay schedule's times. */
const matterLocal = (iso: string) => Date.parse(`${iso}Z`) / 1000;
const HOUR = 3_600_000;

describe('lockfw run --matter: schedules, other fabrics, factory reset', () => {
  it('opens a scheduled user inside its slot only, refuses another fabric, and is commissionable after either reset', {
    timeout: 360_000,
  }, async () => {
    const dir = tempDir('tumbler-matter-');
    const data = join(dir, 'data');
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        deviceId: 'door-7',
        timezone: 'Europe/Berlin',
        matter: { port: PORT, interface: 'lo' },
      }),
    );
    const provisioning = join(dir, 'door-7.provisioning.json');
    const record = createProvisioning('door-7');
    writeProvisioning(provisioning, record);
    const pty = await PtyPair.start(dir);
    const network = await privateNetwork();
    const base = ['--data', data, '--config', configFile, '--serial', pty.a];
    let lock = startLock(network, [...base, '--matter', '--init', '--provisioning', provisioning]);
    const pairing = await waitFor('the pairing line', () => line(lock, 'matter pairing'), NODE_START_MS);
    const control = await connectWhenReady(lock, join(data, 'sim.sock'));
    onCleanup(() => control.close());
    // Wednesday 2027-01-06, 10:00 in Berlin (UTC+1): a trusted clock, as a technician sets it.
    await control.request('sync_time', { time: '2027-01-06T09:00:00Z' });

    const controller = await startController(network, join(dir, 'controller'));
    await controller.request('start', { name: 'first', label: 'first' });
    await commission(controller, lock, 'first', pairing.manual_code);
    await controller.request('connect');
    const doorLock = doorLockOf(controller);
    const lockState = () => doorLock.read('lockState');
    const opens = async (digits: string) => {
      await doorLock.invoke('unlockDoor', { pinCode: pin(digits) });
      await waitFor('unlocked', async () => ((await lockState()) === LOCK_STATE.Unlocked ? true : undefined));
      await doorLock.invoke('lockDoor');
      await waitFor('locked', async () => ((await lockState()) === LOCK_STATE.Locked ? true : undefined));
    };
    const restricted = async () =>
      (await doorLock.events()).filter(
        (e) => e.name === 'lockOperationError' && e.data.operationError === OPERATION_ERROR.Restricted,
      ).length;

    // Bob: a user with a PIN, then a week-day schedule Wednesdays 09:00-11:00.
    await doorLock.invoke('setUser', {
      operationType: 0,
      userIndex: 1,
      userName: 'Bob',
      userUniqueId: null,
      userStatus: null,
      userType: null,
      credentialRule: null,
    });
    const set = (await doorLock.invoke('setCredential', {
      operationType: 0,
      credential: { credentialType: 1, credentialIndex: 1 },
      credentialData: pin('86420'),
      userIndex: 1,
      userStatus: null,
      userType: null,
    })) as { status: number };
    expect(set.status).toBe(STATUS.Success);
    const [added] = await listCodes(data);
    expect(added).toMatchObject({ name: 'Bob (Matter user 1) PIN 1', kind: 'ongoing' });
    const wednesday = {
      weekDayIndex: 1,
      userIndex: 1,
      daysMask: { wednesday: true },
      startHour: 9,
      startMinute: 0,
      endHour: 11,
      endMinute: 0,
    };
    await doorLock.invoke('setWeekDaySchedule', wednesday);
    expect(await doorLock.invoke('getWeekDaySchedule', { weekDayIndex: 1, userIndex: 1 })).toMatchObject({
      status: STATUS.Success,
      daysMask: { wednesday: true, thursday: false },
      startHour: 9,
      endHour: 11,
      endMinute: 0,
    });
    await waitFor('LockUserChange for the week-day schedule', async () =>
      (await doorLock.events()).some(
        (e) => e.name === 'lockUserChange' && e.data.lockDataType === 3 && e.data.userIndex === 1,
      )
        ? true
        : undefined,
    );
    // The same code (id, so the same PIN hash), now recurring.
    expect(await listCodes(data)).toMatchObject([{ id: added!.id, kind: 'recurring' }]);

    // Inside the slot: opens through Matter, and at the keypad with LockOperation naming Bob.
    await opens('86420');
    const keypadGrant = control.waitForEvent((event) => event.event === 'decision');
    await control.request('press', { keys: '86420#' });
    expect(await keypadGrant).toMatchObject({ decision: { outcome: 'granted' } });
    await waitFor('LockOperation from the keypad naming user 1', async () =>
      (await doorLock.events()).some(
        (e) => e.name === 'lockOperation' && e.data.operationSource === 3 && e.data.userIndex === 1,
      )
        ? true
        : undefined,
    );
    await doorLock.invoke('lockDoor');
    await waitFor('locked', async () => ((await lockState()) === LOCK_STATE.Locked ? true : undefined));

    // 12:00: outside the slot. Refused as Restricted, naming Bob; the bolt stays.
    await control.request('advance', { ms: 2 * HOUR });
    const before = await restricted();
    expect(await refusal(doorLock.invoke('unlockDoor', { pinCode: pin('86420') }))).toBe(STATUS.Failure);
    await waitFor('a Restricted refusal', async () => ((await restricted()) > before ? true : undefined));
    expect(
      (await doorLock.events()).filter((e) => e.name === 'lockOperationError').at(-1)?.data.userIndex,
    ).toBe(1);
    expect(await lockState()).toBe(LOCK_STATE.Locked);

    // Malformed schedules: Matter statuses, and nothing changes.
    const codesBefore = await listCodes(data);
    for (const [bad, status] of [
      [{ ...wednesday, endHour: 8 }, STATUS.InvalidCommand], // ends before it starts
      [{ ...wednesday, daysMask: {} }, STATUS.InvalidCommand], // no day
      [{ ...wednesday, weekDayIndex: 2 }, STATUS.InvalidCommand], // one schedule per user
      [{ ...wednesday, userIndex: 5 }, STATUS.Failure], // no such user
    ] as const)
      expect(await refusal(doorLock.invoke('setWeekDaySchedule', bad)), JSON.stringify(bad)).toBe(status);
    expect(
      await refusal(
        doorLock.invoke('setYearDaySchedule', {
          yearDayIndex: 1,
          userIndex: 1,
          localStartTime: matterLocal('2027-01-07T00:00:00'),
          localEndTime: matterLocal('2027-01-06T00:00:00'),
        }),
      ),
    ).toBe(STATUS.InvalidCommand);
    expect(await doorLock.invoke('getWeekDaySchedule', { weekDayIndex: 1, userIndex: 5 })).toMatchObject({
      status: STATUS.NotFound,
    });
    expect(await listCodes(data)).toEqual(codesBefore);

    // Clearing the week-day schedule, then a year-day window 13:00-15:00 local today.
    await doorLock.invoke('clearWeekDaySchedule', { weekDayIndex: 0xfe, userIndex: 1 });
    expect(await doorLock.invoke('getWeekDaySchedule', { weekDayIndex: 1, userIndex: 1 })).toMatchObject({
      status: STATUS.NotFound,
    });
    const window = {
      yearDayIndex: 1,
      userIndex: 1,
      localStartTime: matterLocal('2027-01-06T13:00:00'),
      localEndTime: matterLocal('2027-01-06T15:00:00'),
    };
    await doorLock.invoke('setYearDaySchedule', window);
    expect(await doorLock.invoke('getYearDaySchedule', { yearDayIndex: 1, userIndex: 1 })).toMatchObject({
      status: STATUS.Success,
      localStartTime: window.localStartTime,
      localEndTime: window.localEndTime,
    });
    expect(await listCodes(data)).toMatchObject([{ id: added!.id, kind: 'time_bound' }]);
    const early = await restricted();
    expect(await refusal(doorLock.invoke('unlockDoor', { pinCode: pin('86420') }))).toBe(STATUS.Failure);
    await waitFor('refused before the window', async () => ((await restricted()) > early ? true : undefined));
    await control.request('advance', { ms: 1.5 * HOUR }); // 13:30
    await opens('86420');
    await control.request('advance', { ms: 2 * HOUR }); // 15:30
    expect(await refusal(doorLock.invoke('unlockDoor', { pinCode: pin('86420') }))).toBe(STATUS.Failure);
    expect(await lockState()).toBe(LOCK_STATE.Locked);

    // Another fabric may not change what the first one made: Bob's name and PIN stay.
    await controller.request('start', { name: 'second', label: 'second' });
    await commission(controller, lock, 'second', await controller.request('openWindow'));
    await controller.request('connect', { as: 'second' });
    const other = doorLockOf(controller, 'second');
    const codesBeforeOther = await listCodes(data);
    const replaced = (await other.invoke('setCredential', {
      operationType: 2, // Modify
      credential: { credentialType: 1, credentialIndex: 1 },
      credentialData: pin('11223'),
      userIndex: 1,
      userStatus: null,
      userType: null,
    })) as { status: number };
    expect(replaced.status).toBe(STATUS.InvalidCommand);
    expect(
      await refusal(
        other.invoke('setUser', {
          operationType: 2,
          userIndex: 1,
          userName: 'Mallory',
          userUniqueId: null,
          userStatus: null,
          userType: null,
          credentialRule: null,
        }),
      ),
    ).toBe(STATUS.InvalidCommand);
    expect(await listCodes(data)).toEqual(codesBeforeOther);
    expect(((await doorLock.invoke('getUser', { userIndex: 1 })) as { userName: string }).userName).toBe(
      'Bob',
    );

    // Matter's own factory reset: the last fabric leaves. The users and their PINs go, and the
    // lock prints a new setup code that commissions it again.
    await controller.request('decommission', { as: 'second' });
    await controller.request('decommission');
    const reopened = await waitFor(
      'a new pairing line',
      () => lines(lock, 'matter pairing')[1],
      NODE_START_MS,
    );
    expect(reopened.after).toBe('last fabric removed');
    expect(await listCodes(data)).toEqual([]);
    await controller.request('start', { name: 'third', label: 'third' });
    await commission(controller, lock, 'third', reopened.manual_code);
    await controller.request('connect');
    expect(
      ((await doorLock.invoke('getUser', { userIndex: 1 })) as { userName: unknown }).userName,
    ).toBeNull();

    // The lock's factory reset (console, technician): fabrics erased too, commissionable again.
    // Minted for the lock's clock (2027), not this machine's.
    const { wall } = (await control.request('status')) as { wall: number };
    const token = mintTechToken(deriveTechKey(record.secret), 'door-7', 12 * HOUR, wall);
    const reset = await lockdiag(['--port', pty.b, '--login', 'factory-reset', 'confirm'], {
      env: { LOCKDIAG_TOKEN: token },
    });
    expect(reset.stdout).toMatch(/^factory reset done/);
    const afterReset = await waitFor(
      'the pairing line after the reset',
      () => lines(lock, 'matter pairing')[2],
      NODE_START_MS,
    );
    expect(afterReset.after).toBe('lock factory reset');
    await controller.request('close', { name: 'third' });
    await controller.request('start', { name: 'fourth', label: 'fourth' });
    await commission(controller, lock, 'fourth', afterReset.manual_code);
    control.close();
    await stopLock(lock);

    // A factory reset while the lock runs without Matter: the next start with --matter erases
    // the fabric data before the node starts, and the lock is commissionable.
    lock = startLock(network, base);
    await waitFor('the console', () => line(lock, 'serial console open'));
    const offline = await lockdiag(['--port', pty.b, '--login', 'factory-reset', 'confirm'], {
      env: { LOCKDIAG_TOKEN: token },
    });
    expect(offline.stdout).toMatch(/^factory reset done/);
    await stopLock(lock);
    lock = startLock(network, [...base, '--matter']);
    // The console opens after the Matter node: then lockfw is up and handles SIGTERM.
    await waitFor('the console', () => line(lock, 'serial console open'), NODE_START_MS);
    expect(line(lock, 'matter pairing')).toBeDefined();
    expect(line(lock, 'matter fabric data erased (factory reset)')).toBeDefined();
    expect(line(lock, 'matter node commissioned')).toBeUndefined();
    await stopLock(lock);
    expect(lock.output()).not.toContain('86420');
  });
});
