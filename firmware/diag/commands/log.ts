import { LOG_LEVELS, type LogLevel } from '../../log.ts';
import { DiagError, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import type { CommandSpec } from '../registry.ts';
import { auditTechnicianAction } from '../technician-action.ts';

export const logLevel: CommandSpec = {
  name: 'log level',
  usage: 'log level [LEVEL]',
  summary: `show the log level; with LEVEL (${LOG_LEVELS.join('|')}) change it (technician)`,
  details: ['Changing it lasts until the next restart. Logs never hold PINs or secrets at any level.'],
  completeArg: (index) => (index === 0 ? LOG_LEVELS : []),
  run(call) {
    expectArgs(call.args, 0, 1, 'log level [LEVEL]');
    const control = call.ctx.logControl;
    const current = control?.level ?? call.ctx.firmware.config.logLevel;
    const wanted = call.args[0]?.toLowerCase();
    if (wanted === undefined) return ok(`log level: ${current}`, { level: current });
    // Reading is open to anyone; turning logs down could hide what happens next.
    if (!call.session.privileged)
      throw new DiagError(
        'login_required',
        'changing the log level needs a technician login first: login TOKEN',
      );
    if (!LOG_LEVELS.includes(wanted as LogLevel))
      throw new DiagError('bad_argument', `LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
    if (!control) throw new DiagError('unsupported', 'this lock was started without a shared log control');
    control.level = wanted as LogLevel;
    auditTechnicianAction(call, 'log_level', { from: current, to: wanted });
    return ok(`log level: ${wanted} (was ${current})`, { level: wanted, previous: current });
  },
};
