import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../firmware/store/db.ts';
import { Outbox } from '../../firmware/store/outbox.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { tempDir } from '../helpers/tmp.ts';

const MINUTE = 60_000;

describe('the outbox is the audit log’s unacknowledged tail', () => {
  it('migration 9 moves the outbox table’s start and boot ids into the log, and drops the table', () => {
    const db = openDatabase(join(tempDir(), 'lock.db'), { migrate: false });
    migrate(db, 8);
    db.prepare('INSERT INTO state (key, value) VALUES (\'boot\', \'{"id":"b1"}\')').run();
    db.prepare(
      'INSERT INTO state (key, value) VALUES (\'sync\', \'{"appliedRevision":2,"lastCounter":5,"ackedSeq":3,"reported":null}\')',
    ).run();
    const insert = db.prepare(
      "INSERT INTO audit (seq, at, type, data, prev_hash, hash) VALUES (?, ?, 'decision', '{}', 'p', 'h')",
    );
    for (let seq = 1; seq <= 6; seq++) insert.run(seq, 1000 + seq);
    // Acknowledged through 3 (the old ack deleted those outbox rows).
    db.prepare('DELETE FROM outbox WHERE seq <= 3').run();
    migrate(db);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%outbox%'").all()).toEqual([]);
    const outbox = new Outbox(db);
    expect(outbox.ackedSeq()).toBe(3);
    expect(outbox.depth()).toBe(3);
    expect(outbox.pending(0, 10).map((e) => [e.seq, e.bootId])).toEqual([
      [4, 'b1'],
      [5, 'b1'],
      [6, 'b1'],
    ]);
    expect(
      JSON.parse((db.prepare("SELECT value FROM state WHERE key = 'sync'").get() as { value: string }).value),
    ).toEqual({ appliedRevision: 2, lastCounter: 5, reported: null });
    // An ack moves one number; a lower one changes nothing; the bound moves it past the oldest.
    expect(outbox.ack(5)).toBe(true);
    expect(outbox.ack(4)).toBe(false);
    expect(outbox.pending(0, 10).map((e) => e.seq)).toEqual([6]);
    db.close();
  });

  it('the bound drops the oldest queued events by moving the ack, and says which', () => {
    const db = openDatabase(join(tempDir(), 'lock.db'));
    const insert = db.prepare(
      "INSERT INTO audit (seq, at, type, data, prev_hash, hash) VALUES (?, 1, 'decision', '{}', 'p', 'h')",
    );
    for (let seq = 1; seq <= 10; seq++) insert.run(seq);
    const outbox = new Outbox(db);
    outbox.ack(2);
    expect(outbox.enforceBound(5)).toEqual({ dropped: 3, firstSeq: 3, lastSeq: 5 });
    expect(outbox.enforceBound(5)).toBeUndefined();
    expect(outbox.pending(0, 100).map((e) => e.seq)).toEqual([6, 7, 8, 9, 10]);
    // The rows stay in the log (retention decides when they go).
    expect(db.prepare('SELECT COUNT(*) AS n FROM audit').get()).toEqual({ n: 10 });
    db.close();
  });
});

describe('the clock floor is read back from the newest audit row', () => {
  it('a decision writes no state row for the floor, and a power cut keeps the floor it carried', async () => {
    const start = Date.UTC(2026, 10, 22, 10, 0, 0);
    const lock = await SimLock.create({ dataDir: tempDir(), startEpochMs: start });
    const clockRecord = () =>
      (
        lock.firmware.db.prepare("SELECT value FROM state WHERE key = 'clock'").get() as
          | { value: string }
          | undefined
      )?.value;
    await lock.advance(5 * MINUTE);
    const before = clockRecord();
    await lock.press('999999#');
    expect(lock.firmware.manager.status().lastDecision?.decision.outcome).toBe('denied');
    // The decision's row carries the floor; the state record was not rewritten for it.
    expect(clockRecord()).toBe(before);
    const tail = lock.firmware.audit.lastClockFloor()!;
    expect(tail).toBeGreaterThanOrEqual(start + 5 * MINUTE);
    await lock.powerCycle();
    expect(lock.firmware.clock.snapshot().floor).toBeGreaterThanOrEqual(tail);
    // A battery swap that put the RTC back 6 minutes is noticed against that floor.
    lock.hal.rtc.setTime(tail - 6 * MINUTE);
    await lock.powerCycle();
    expect(lock.firmware.manager.status().clockUntrustedReason).toBe('rtc_behind_floor');
    await lock.close();
  });
});
