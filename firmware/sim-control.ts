import { ControlError, type ControlExtension } from '../hal/sim/control-server.ts';
import { isValidZone } from './access/schedule.ts';
import { MODES, type Mode } from './access/types.ts';
import { describeCode } from './commands/codes.ts';
import type { Firmware } from './firmware.ts';

/** Firmware commands on the sim control socket: status, codes (never PINs), mode, time zone. */
export function firmwareControlExtension(firmware: () => Firmware): ControlExtension {
  return async (request) => {
    const fw = firmware();
    switch (request.cmd) {
      case 'status':
        return { status: fw.manager.status(), wall: fw.manager.wallNow() };
      case 'codes': {
        const now = fw.manager.wallNow();
        return {
          codes: fw.codes.list().map((code) => describeCode(code, now, fw.manager.getSettings().timezone)),
        };
      }
      case 'recent': {
        const limit =
          typeof request.limit === 'number' && request.limit > 0 ? Math.min(request.limit, 200) : 20;
        return { rows: fw.audit.latest(limit) };
      }
      case 'sync_time': {
        const at =
          typeof request.time === 'string' ? Date.parse(request.time) : Number(request.time ?? Date.now());
        if (!Number.isFinite(at) || at <= 0)
          throw new ControlError('bad_request', 'time must be an ISO instant or epoch ms');
        await fw.clock.setTrusted(at, 'technician');
        await fw.manager.refreshClock();
        return {};
      }
      case 'arm_crash': {
        // Fault injection: SIGKILL this process right after the next decision is
        // committed and before the relay moves (the power-cut window tests aim at).
        if (request.point !== 'after_commit')
          throw new ControlError('bad_request', 'point must be "after_commit"');
        const off = fw.manager.onEvent((event) => {
          if (event.type !== 'committed') return;
          off();
          process.kill(process.pid, 'SIGKILL');
        });
        return {};
      }
      case 'set_mode': {
        if (!MODES.includes(request.mode as Mode))
          throw new ControlError('bad_request', `mode must be one of ${MODES.join(', ')}`);
        await fw.manager.setMode(request.mode as Mode, 'sim_control');
        return {};
      }
      case 'set_timezone': {
        if (typeof request.timezone !== 'string' || !isValidZone(request.timezone)) {
          throw new ControlError('bad_request', 'timezone must be an IANA zone such as Europe/Berlin');
        }
        await fw.manager.setTimezone(request.timezone, 'sim_control');
        return {};
      }
      default:
        return undefined;
    }
  };
}
