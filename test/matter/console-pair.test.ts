import { describe, expect, it } from 'vitest';
import type { DiagMatter } from '../../firmware/diag/context.ts';
import { ConsoleHarness } from '../diag/harness.ts';

// The console side of `matter pair`; the real node's codes are checked end to end in door-lock.test.ts.
function node(fabrics: Array<{ index: number; label: string }>): DiagMatter {
  return {
    pairing: { manualPairingCode: '34970112332', qrPairingCode: 'MT:Y.K9042C00KA0648G00' },
    commissioned: () => fabrics.length > 0,
    fabrics: () => fabrics,
  };
}

describe('console: matter pair', () => {
  it('shows the setup code only to a technician, and only while no fabric holds the lock', async () => {
    const fabrics: Array<{ index: number; label: string }> = [];
    const h = await ConsoleHarness.create({ matter: node(fabrics) });
    expect(await h.run('matter pair')).toEqual([
      'error: "matter pair" needs a technician login first: login TOKEN',
    ]);
    await h.login();
    expect(await h.run('matter pair')).toEqual([
      'manual code: 34970112332',
      'QR payload:  MT:Y.K9042C00KA0648G00',
    ]);
    fabrics.push({ index: 1, label: 'Home' });
    const paired = await h.run('matter pair');
    expect(paired).toEqual([
      'matter: paired with 1 fabric(s): Home',
      'pair more controllers from one already paired',
    ]);
    expect(paired.join('\n')).not.toContain('34970112332');
  });

  it('config masks the Matter passcode (it admits whoever holds it)', async () => {
    const h = await ConsoleHarness.create({
      config: { matter: { passcode: 20202021, discriminator: 3840 } },
    });
    const lines = await h.run('config');
    expect(lines).toContain(`${'matter.passcode'.padEnd(28)} ***`);
    expect(lines).toContain(`${'matter.discriminator'.padEnd(28)} 3840`);
    expect(lines.join('\n')).not.toContain('20202021');
  });

  it('says plainly when the lock runs without Matter', async () => {
    const h = await ConsoleHarness.create();
    await h.login();
    expect(await h.run('matter pair')).toEqual([
      'error: this lock runs without Matter (lockfw run --matter)',
    ]);
  });
});
