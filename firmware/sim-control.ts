import { ControlError, type ControlExtension, parseControlInstant } from '../hal/sim/control-server.ts';
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
        const limit = request.limit ?? 20;
        if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 200)
          throw new ControlError('bad_request', 'limit must be a whole number from 1 to 200');
        return { rows: fw.audit.latest(limit as number) };
      }
      case 'sync_time': {
        const at = request.time === undefined ? Date.now() : parseControlInstant(request.time, 'time');
        if (request.backward !== undefined && request.backward !== true)
          throw new ControlError('bad_request', 'backward must be true when given');
        const { verdict } = await fw.manager.setTime(at, 'technician', 'sim_control', {
          confirmedBackward: request.backward === true,
        });
        if (!verdict.ok) throw new ControlError(verdict.error, verdict.message);
        return { backward: verdict.backward };
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
