import { DiagError, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import { factoryReset } from '../factory-reset.ts';
import type { CommandSpec } from '../registry.ts';
import { auditTechnicianAction } from '../technician-action.ts';

export const factoryResetCommand: CommandSpec = {
  name: 'factory-reset',
  usage: 'factory-reset confirm',
  summary: 'erase codes, offline-code state, mode, lockouts, Matter pairing; keeps device key and audit log',
  details: [
    'Without "confirm" it only says what it would do.',
    'Offline codes move to the next key version: codes issued before the reset stop working.',
  ],
  privileged: true,
  completeArg: (index) => (index === 0 ? ['confirm'] : []),
  async run(call) {
    expectArgs(call.args, 0, 1, 'factory-reset confirm');
    if (call.args[0] !== 'confirm') {
      throw new DiagError(
        'confirmation_required',
        'factory-reset erases every code, the offline-code state, the mode, the lockouts and the Matter pairing (the device key and the audit log stay); type: factory-reset confirm',
      );
    }
    auditTechnicianAction(call, 'factory_reset');
    const result = await factoryReset(call.ctx.firmware, 'technician');
    return ok(
      [
        `factory reset done: ${result.codesRemoved} code${result.codesRemoved === 1 ? '' : 's'} erased, mode normal (was ${result.previousMode}), lockouts cleared.`,
        `Offline codes now use key version ${result.offlineKey.to}: the gateway must issue new ones.`,
      ],
      {
        codes_removed: result.codesRemoved,
        offline_key_version: result.offlineKey.to,
        previous_mode: result.previousMode,
      },
    );
  },
};
