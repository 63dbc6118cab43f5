import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../firmware/store/outbox.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { tempDir } from '../helpers/tmp.ts';

const KEEP_ROWS = 100;

describe('audit retention on a running lock', () => {
  it("a keypad attacker's flood of refusals keeps the log and the file bounded, and verifiable", async () => {
    const dataDir = tempDir();
    const lock = await SimLock.create({ dataDir, config: { auditKeepRows: KEEP_ROWS } });
    const fw = lock.firmware;
    const rows = () => (fw.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
    const fileBytes = () => {
      fw.db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(join(dataDir, 'lock.db')).size;
    };
    const flood = async (entries: number) => {
      for (let i = 0; i < entries; i++) {
        await lock.press('9999#');
        if (i % 50 === 49) await lock.advance(2000);
      }
      await lock.advance(10_000);
    };

    await flood(800);
    const sizeAfterFirst = fileBytes();
    expect(rows()).toBeLessThanOrEqual(KEEP_ROWS + 100);
    await flood(800);
    expect(fw.audit.lastSeq()).toBeGreaterThan(1600);
    expect(rows()).toBeLessThanOrEqual(KEEP_ROWS + 100);
    // Pages of pruned rows are reused: the second flood does not grow the file.
    expect(fileBytes()).toBeLessThanOrEqual(sizeAfterFirst + 8 * 4096);
    // No gateway: its outbox goes with the pruned rows.
    expect(new Outbox(fw.db).depth()).toBe(rows());
    expect(fw.audit.verify()).toMatchObject({ ok: true, headSeq: fw.audit.lastSeq() });
    expect(fw.audit.chainState().checkpoint.seq).toBeGreaterThan(1400);
    // The checkpoint survives a power cut: the log still verifies after a reboot.
    await lock.powerCycle();
    expect(lock.firmware.audit.verify()).toMatchObject({ ok: true });
    await lock.close();
  }, 120_000);
});
