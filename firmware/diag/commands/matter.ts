import { DiagError, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import type { CommandSpec } from '../registry.ts';

export const matterPair: CommandSpec = {
  name: 'matter pair',
  usage: 'matter pair',
  summary: 'show the Matter setup code and QR payload while no fabric holds the lock (technician)',
  details: [
    'The setup code admits whoever holds it to the lock: it is shown only after login.',
    'Once a controller (Apple Home, Google Home, Home Assistant) has paired, the code no longer',
    'works; pair more controllers from the first one (its "share"/"multi-admin" setting).',
  ],
  privileged: true,
  run(call) {
    expectArgs(call.args, 0, 0, 'matter pair');
    const matter = call.ctx.matter;
    if (!matter) throw new DiagError('unsupported', 'this lock runs without Matter (lockfw run --matter)');
    const fabrics = matter.fabrics();
    if (matter.commissioned())
      return ok(
        [
          `matter: paired with ${fabrics.length} fabric(s): ${fabrics.map((f) => f.label || `#${f.index}`).join(', ')}`,
          'pair more controllers from one already paired',
        ],
        { commissioned: true, fabrics },
      );
    const { manualPairingCode, qrPairingCode } = matter.pairing;
    return ok([`manual code: ${manualPairingCode}`, `QR payload:  ${qrPairingCode}`], {
      commissioned: false,
      manual_code: manualPairingCode,
      qr_payload: qrPairingCode,
    });
  },
};
