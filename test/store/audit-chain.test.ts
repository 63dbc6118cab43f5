import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveDeviceKeys } from '../../firmware/provisioning.ts';
import { AuditLog, auditRowHash, GENESIS_HASH } from '../../firmware/store/audit.ts';
import { type Db, migrate, openDatabase } from '../../firmware/store/db.ts';
import { Outbox } from '../../firmware/store/outbox.ts';
import { AuditRetention } from '../../firmware/store/retention.ts';
import { tempDir } from '../helpers/tmp.ts';

const KEY = deriveDeviceKeys(new Uint8Array(32).fill(7)).audit;

function openLog(): { db: Db; audit: AuditLog } {
  const db = openDatabase(join(tempDir(), 'lock.db'));
  return { db, audit: new AuditLog(db, KEY) };
}

function fill(audit: AuditLog, rows: number, from = 0): void {
  for (let i = 0; i < rows; i++)
    audit.append('decision', { outcome: 'denied', reason: 'unknown_code', i: from + i }, 1000 + from + i);
}

interface Raw {
  seq: number;
  at: number;
  type: string;
  data: string;
}

/** What someone with write access to lock.db but not the device secret can do: recompute a chain. */
function rechain(db: Db, hash: (prev: string, row: Raw) => string): void {
  let prev = GENESIS_HASH;
  for (const row of db.prepare<[], Raw>('SELECT seq, at, type, data FROM audit ORDER BY seq').all()) {
    const next = hash(prev, row);
    db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, next, row.seq);
    prev = next;
  }
  db.prepare('UPDATE audit_chain SET head_hash = ? WHERE id = 1').run(prev);
}

const sha256 = (prev: string, row: Raw) =>
  createHash('sha256').update(`${prev}\n${row.seq}\n${row.at}\n${row.type}\n${row.data}`).digest('hex');

describe('audit chain: keyed and anchored', () => {
  it('is keyed with HKDF(device secret, "tumbler/audit-chain/v1"), as docs/protocol.md says', () => {
    const secret = new Uint8Array(32).fill(7);
    const documented = new Uint8Array(
      hkdfSync('sha256', secret, 'tumbler/device-keys/v1', 'tumbler/audit-chain/v1', 32),
    );
    expect(KEY).toEqual(documented);
    expect(KEY).not.toEqual(deriveDeviceKeys(secret).signing);
  });

  it('notices rows deleted from the end of the log (the head anchor)', async () => {
    const { db, audit } = openLog();
    fill(audit, 6);
    expect(audit.verify()).toMatchObject({ ok: true, rows: 6, headSeq: 6 });
    db.prepare('DELETE FROM audit WHERE seq > 4').run();
    const broken = audit.verify();
    expect(broken).toMatchObject({ ok: false, firstBrokenSeq: 5 });
    expect(broken.ok || broken.problem).toMatch(/ends at row 4 but its head anchor is row 6/);
    expect(await audit.verifyInSlices(2)).toMatchObject({ ok: false, firstBrokenSeq: 5 });
    db.close();
  });

  it('notices an edit whose author recomputed the chain without the key', () => {
    const { db, audit } = openLog();
    fill(audit, 5);
    db.prepare("UPDATE audit SET data = replace(data, 'unknown_code', 'expired') WHERE seq = 3").run();
    rechain(db, sha256);
    expect(audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 1 });
    const otherKey = randomBytes(32);
    rechain(db, (prev, row) => auditRowHash(otherKey, prev, row.seq, row.at, row.type, row.data));
    expect(audit.verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      problem: expect.stringMatching(/edited/),
    });
    // The right key recomputes it: only the device's own secret can.
    rechain(db, (prev, row) => auditRowHash(KEY, prev, row.seq, row.at, row.type, row.data));
    expect(audit.verify()).toMatchObject({ ok: true });
    db.close();
  });

  it('keeps the head in the same transaction as the append: a rolled-back append leaves no trace', async () => {
    const { db, audit } = openLog();
    fill(audit, 2);
    const heard: number[] = [];
    audit.onAppend((row) => heard.push(row.seq));
    expect(() =>
      db.transaction(() => {
        audit.append('x', {}, 1);
        throw new Error('abort');
      })(),
    ).toThrow('abort');
    expect(audit.chainState().head.seq).toBe(2);
    expect(db.transaction(() => audit.append('y', {}, 2))().seq).toBe(3);
    await Promise.resolve();
    // Listeners hear of the committed row only, never of the rolled-back one.
    expect(heard).toEqual([3]);
    expect(audit.verify()).toMatchObject({ ok: true, rows: 3 });
    db.close();
  });

  it('re-chains a log written before the key once, and records it', () => {
    const path = join(tempDir(), 'lock.db');
    const old = openDatabase(path, { migrate: false });
    migrate(old, 5);
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= 4; seq++) {
      const row = { seq, at: 1000 + seq, type: 'decision', data: JSON.stringify({ seq }) };
      const hash = sha256(prev, row);
      old
        .prepare('INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)')
        .run(seq, row.at, row.type, row.data, prev, hash);
      prev = hash;
    }
    old.close();
    const db = openDatabase(path);
    const audit = new AuditLog(db, KEY);
    expect(audit.chainState()).toMatchObject({ keyed: false, head: { seq: 4, hash: prev } });
    expect(audit.verify()).toMatchObject({ ok: true, rows: 4 });
    expect(() => audit.append('x', {}, 1)).toThrow(/unkeyed/);
    const recorded = audit.upgradeLegacyChain(5000);
    expect(recorded).toMatchObject({
      seq: 5,
      type: 'audit_rechained',
      data: { rows: 4, legacy_chain: 'intact' },
    });
    expect(audit.chainState().keyed).toBe(true);
    expect(audit.verify()).toMatchObject({ ok: true, rows: 5, headSeq: 5 });
    expect(audit.upgradeLegacyChain(6000)).toBeUndefined();
    db.close();
  });

  it('says where a legacy chain was already broken when it re-chains it', () => {
    const path = join(tempDir(), 'lock.db');
    const old = openDatabase(path, { migrate: false });
    migrate(old, 5);
    old.prepare("INSERT INTO audit VALUES (1, 1, 'x', '{}', ?, 'forged')").run(GENESIS_HASH);
    old.close();
    const db = openDatabase(path);
    const audit = new AuditLog(db, KEY);
    expect(audit.upgradeLegacyChain(5000)?.data).toMatchObject({
      legacy_chain: expect.stringMatching(/^broken at row 1: .*edited/),
    });
    db.close();
  });
});

describe('audit retention', () => {
  it('prunes to the configured tail, and verifies from the checkpoint', async () => {
    const { db, audit } = openLog();
    fill(audit, 1200);
    const retention = new AuditRetention(db, audit, { keepRows: 100, keepUnacknowledged: false });
    expect(retention.prunableThrough()).toBe(1100);
    expect(retention.pruneBatch(500)).toBe(500);
    // A sliced walk started before a prune carries on from the new checkpoint.
    const walking = audit.verifyInSlices(50);
    while (retention.pruneBatch(500) > 0);
    expect(await walking).toMatchObject({ ok: true });
    expect(audit.chainState().checkpoint.seq).toBe(1100);
    expect(db.prepare('SELECT COUNT(*) AS n FROM audit').get()).toEqual({ n: 100 });
    // The outbox of a lock with no gateway goes with the rows it names.
    expect(new Outbox(db).depth()).toBe(100);
    expect(audit.verify()).toMatchObject({ ok: true, rows: 100, checkpointSeq: 1100, headSeq: 1200 });
    // A row deleted just after the checkpoint is still noticed.
    db.prepare('DELETE FROM audit WHERE seq = 1101').run();
    expect(audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 1102 });
    db.close();
  });

  it('keeps what the gateway has not acknowledged', () => {
    const { db, audit } = openLog();
    fill(audit, 400);
    const outbox = new Outbox(db);
    outbox.ack(150);
    const retention = new AuditRetention(db, audit, { keepRows: 100, keepUnacknowledged: true });
    expect(retention.prunableThrough()).toBe(150);
    while (retention.pruneBatch(40) > 0);
    expect(audit.chainState().checkpoint).toMatchObject({ seq: 150 });
    expect(outbox.pending(0, 1)[0]?.seq).toBe(151);
    outbox.ack(400);
    expect(retention.prunableThrough()).toBe(300);
    expect(audit.verify()).toMatchObject({ ok: true, rows: 250 });
    db.close();
  });
});
