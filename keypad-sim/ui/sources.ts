import { MODES, type Mode } from '../../firmware/access/types.ts';
import type { LockStatus } from '../../firmware/lock-manager.ts';
import type { AuditRow } from '../../firmware/store/audit.ts';
import type { ControlClient } from '../control-client.ts';
import type { SimLock } from '../sim-lock.ts';
import type { Action, LockView, ViewSource } from './view.ts';

const nextMode = (mode: Mode): Mode => MODES[(MODES.indexOf(mode) + 1) % MODES.length]!;

/** The firmware running in this process (npm start). */
export function localSource(lock: SimLock): ViewSource {
  return {
    async snapshot(): Promise<LockView> {
      const { firmware, hal } = lock;
      const status = firmware.manager.status();
      return {
        wallMs: hal.rtc.peek().epochMs,
        timezone: status.timezone,
        clockTrusted: status.clockTrusted,
        lock: status.lock,
        mode: status.mode,
        door: status.door,
        led: hal.indicator.led,
        beep: hal.indicator.lastBeep,
        jammed: hal.actuator.isJammed(),
        entryLength: status.entryLength,
        lockoutUntil: status.lockout.active ? status.lockout.until : null,
        recent: firmware.audit.latest(12),
      };
    },
    async act(action: Action): Promise<string | undefined> {
      const { firmware, hal } = lock;
      switch (action.type) {
        case 'press':
          hal.keypad.press(action.keys);
          return undefined;
        case 'advance':
          await lock.advance(action.ms);
          return `time travel: +${action.ms / 3_600_000} h`;
        case 'toggle_jam':
          if (hal.actuator.isJammed()) hal.actuator.unjam();
          else hal.actuator.jam();
          return hal.actuator.isJammed() ? 'motor fault on: the bolt will not move' : 'motor fault cleared';
        case 'toggle_door':
          hal.door.set(hal.door.state() === 'open' ? 'closed' : 'open');
          return `door ${hal.door.state()}`;
        case 'rtc_lost':
          hal.rtc.loseBattery();
          await firmware.manager.refreshClock();
          return 'RTC battery lost: clock reads 2000-01-01 and is untrusted';
        case 'sync_time': {
          const { verdict } = await firmware.manager.setTime(Date.now(), 'technician', 'keypad-sim');
          return verdict.ok
            ? 'technician set the clock to the host time: trusted'
            : `clock not set: the host time ${verdict.message}`;
        }
        case 'next_mode': {
          const mode = nextMode(firmware.manager.status().mode);
          await firmware.manager.setMode(mode, 'keypad-sim');
          return `mode ${mode}`;
        }
        case 'power_cycle':
          await lock.powerCycle();
          return 'power cut and restored: firmware rebooted on the same data';
      }
    },
    close: () => lock.close(),
  };
}

/** A separate `lockfw run --hal sim` reached through its control socket (keypad-sim attach). */
export function socketSource(client: ControlClient): ViewSource {
  let lastMode: Mode = 'normal';
  let jammed = false;
  let door = 'closed';
  return {
    async snapshot(): Promise<LockView> {
      const [status, devices, recent] = await Promise.all([
        client.request('status'),
        client.request('devices'),
        client.request('recent', { limit: 12 }),
      ]);
      const s = status.status as LockStatus;
      const rtc = devices.rtc as { epochMs: number };
      lastMode = s.mode;
      jammed = devices.jammed as boolean;
      door = devices.door as string;
      return {
        wallMs: rtc.epochMs,
        timezone: s.timezone,
        clockTrusted: s.clockTrusted,
        lock: s.lock,
        mode: s.mode,
        door: s.door,
        led: devices.led as string,
        beep: (devices.beep as string | null) ?? null,
        jammed,
        entryLength: s.entryLength,
        lockoutUntil: s.lockout.active ? s.lockout.until : null,
        recent: recent.rows as AuditRow[],
      };
    },
    async act(action: Action): Promise<string | undefined> {
      switch (action.type) {
        case 'press':
          await client.request('press', { keys: action.keys });
          return undefined;
        case 'advance':
          await client.request('advance', { ms: action.ms });
          return `time travel: +${action.ms / 3_600_000} h`;
        case 'toggle_jam':
          await client.request(jammed ? 'unjam' : 'jam');
          return jammed ? 'motor fault cleared' : 'motor fault on';
        case 'toggle_door':
          await client.request('door', { state: door === 'open' ? 'closed' : 'open' });
          return undefined;
        case 'rtc_lost':
          await client.request('rtc_lost');
          return 'RTC battery lost';
        case 'sync_time':
          await client.request('sync_time', { time: Date.now() });
          return 'technician set the clock: trusted';
        case 'next_mode':
          await client.request('set_mode', { mode: nextMode(lastMode) });
          return undefined;
        case 'power_cycle':
          return 'power cut is not available when attached: kill -9 the lockfw process and start it again';
      }
    },
    async close() {
      client.close();
    },
  };
}
