/**
 * Numbered schema migrations: entry N-1 upgrades user_version N-1 to N.
 * Never edit a migration that has shipped; add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the foundation: ongoing codes, the audit log, key-value device state.
  `
  CREATE TABLE codes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    pin_hash TEXT NOT NULL,
    pin_length INTEGER NOT NULL,
    kind TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX codes_pin_hash ON codes (pin_hash);
  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE TABLE state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: access rules: every kind, roles, windows, schedules, use limits, backup pool.
  `
  ALTER TABLE codes ADD COLUMN role TEXT NOT NULL DEFAULT 'standard';
  ALTER TABLE codes ADD COLUMN starts_at INTEGER;
  ALTER TABLE codes ADD COLUMN ends_at INTEGER;
  ALTER TABLE codes ADD COLUMN schedule TEXT;
  ALTER TABLE codes ADD COLUMN max_uses INTEGER;
  ALTER TABLE codes ADD COLUMN expire_after_first_use_min INTEGER;
  ALTER TABLE codes ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE codes ADD COLUMN first_used_at INTEGER;
  ALTER TABLE codes ADD COLUMN last_used_at INTEGER;
  ALTER TABLE codes ADD COLUMN updated_at INTEGER;
  ALTER TABLE codes ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
  ALTER TABLE codes ADD COLUMN backup_assigned INTEGER NOT NULL DEFAULT 1;
  UPDATE codes SET updated_at = created_at;
  `,
  // 3: offline codes (firmware/store/offline.ts): the key version, codes used or
  // activated (by fingerprint, never the digits), and revocations from the gateway.
  `
  CREATE TABLE offline_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    rotated_at INTEGER
  );
  INSERT INTO offline_key (id, version, rotated_at) VALUES (1, 1, NULL);
  CREATE TABLE offline_codes (
    key_version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    starts_at INTEGER,
    ends_at INTEGER,
    first_used_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    PRIMARY KEY (key_version, fingerprint)
  ) WITHOUT ROWID;
  CREATE INDEX offline_codes_ends_at ON offline_codes (ends_at);
  CREATE TABLE offline_revocations (
    key_version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_by TEXT NOT NULL,
    PRIMARY KEY (key_version, fingerprint)
  ) WITHOUT ROWID;
  `,
  // 4: gateway sync: which gateway entry a code came from, and the event outbox.
  // The trigger queues every audit row in the same transaction that writes it, so an
  // event can never be committed without being queued.
  `
  ALTER TABLE codes ADD COLUMN ref TEXT;
  CREATE UNIQUE INDEX codes_gateway_ref ON codes (ref) WHERE ref IS NOT NULL;
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY REFERENCES audit (seq) ON DELETE CASCADE,
    boot_id TEXT NOT NULL
  );
  CREATE TRIGGER audit_to_outbox AFTER INSERT ON audit
  BEGIN
    INSERT INTO outbox (seq, boot_id)
    VALUES (NEW.seq, COALESCE((SELECT json_extract(value, '$.id') FROM state WHERE key = 'boot'), 'unknown'));
  END;
  `,
  // 5: the store's identity: a random incarnation id made once when this database is
  // created (a wiped and re-initialised lock is a new incarnation: its event seqs start
  // again, so the gateway keys events by (device_id, incarnation, seq)), and the
  // fingerprint of the device key the database was made with (firmware/store/identity.ts).
  `
  CREATE TABLE store_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    incarnation TEXT NOT NULL,
    key_fingerprint TEXT,
    created_at INTEGER NOT NULL
  );
  INSERT INTO store_identity (id, incarnation, key_fingerprint, created_at)
  VALUES (1, lower(hex(randomblob(16))), NULL, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
  `,
  // 6: the audit chain's anchors (firmware/store/audit.ts): the head (last seq and hash),
  // kept by a trigger in the same transaction as every append so a truncated tail shows,
  // and the checkpoint (the last pruned row) verification starts from. keyed is 0 for a
  // log written before the chain was keyed (HMAC); opening the store re-chains it once.
  `
  CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    keyed INTEGER NOT NULL,
    head_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    checkpoint_seq INTEGER NOT NULL,
    checkpoint_hash TEXT NOT NULL
  );
  INSERT INTO audit_chain (id, keyed, head_seq, head_hash, checkpoint_seq, checkpoint_hash)
  VALUES (
    1,
    NOT EXISTS (SELECT 1 FROM audit),
    COALESCE((SELECT MAX(seq) FROM audit), 0),
    COALESCE((SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), '0000000000000000000000000000000000000000000000000000000000000000'),
    0,
    '0000000000000000000000000000000000000000000000000000000000000000'
  );
  CREATE TRIGGER audit_chain_head AFTER INSERT ON audit
  BEGIN
    UPDATE audit_chain SET head_seq = NEW.seq, head_hash = NEW.hash WHERE id = 1;
  END;
  `,
  // 7: no two enabled codes share a PIN, whatever path enables them (firmware/store/codes.ts
  // checks first and refuses with duplicate_code; the index is the backstop). Duplicates
  // an older version let in are switched off, except the one the keypad lookup picked.
  `
  UPDATE codes SET enabled = 0
  WHERE enabled = 1 AND EXISTS (
    SELECT 1 FROM codes AS other
    WHERE other.pin_hash = codes.pin_hash AND other.enabled = 1 AND (
      other.backup_assigned > codes.backup_assigned
      OR (other.backup_assigned = codes.backup_assigned AND other.id < codes.id)
    )
  );
  CREATE UNIQUE INDEX codes_enabled_pin ON codes (pin_hash) WHERE enabled = 1;
  `,
  // 8: the keypad lockout counts down on monotonic time (firmware/access/lockout.ts): the
  // stored wall-clock end (lockedUntil) becomes the time left, measured from the clock
  // floor (the latest trusted time saved, never later than the last event) and capped
  // at the longest lockout, so a dead RTC cannot keep an old lockout alive for good.
  `
  UPDATE state SET value = json_object(
    'consecutiveFailures', json_extract(value, '$.consecutiveFailures'),
    'lockoutsInRow', json_extract(value, '$.lockoutsInRow'),
    'remainingMs', CASE
      WHEN json_extract(value, '$.lockedUntil') IS NULL THEN 0
      ELSE MIN(90000000, MAX(0, json_extract(value, '$.lockedUntil') - COALESCE(
        (SELECT json_extract(c.value, '$.floor') FROM state AS c WHERE c.key = 'clock' AND json_valid(c.value)), 0)))
    END,
    'day', json_extract(value, '$.day'),
    'dailyFailures', json_extract(value, '$.dailyFailures')
  )
  WHERE key = 'lockout' AND json_valid(value) AND json_type(value, '$.lockedUntil') IS NOT NULL;
  `,
  // 9: the outbox is the audit log's unacknowledged tail (firmware/store/outbox.ts): events
  // are the rows after audit_chain.acked_seq, and an ack moves that one number. Each row
  // carries the boot that wrote it and the clock floor at the time (firmware/clock.ts
  // reads the floor back from the newest row), so a decision commits one row and no copy.
  // The outbox table's start (acknowledged or dropped on overflow) becomes acked_seq.
  `
  ALTER TABLE audit ADD COLUMN boot_id TEXT;
  ALTER TABLE audit ADD COLUMN clock_floor INTEGER;
  UPDATE audit SET boot_id = (SELECT o.boot_id FROM outbox AS o WHERE o.seq = audit.seq)
  WHERE seq IN (SELECT seq FROM outbox);
  ALTER TABLE audit_chain ADD COLUMN acked_seq INTEGER NOT NULL DEFAULT 0;
  UPDATE audit_chain SET acked_seq = COALESCE((SELECT MIN(seq) - 1 FROM outbox), head_seq) WHERE id = 1;
  DROP TRIGGER audit_to_outbox;
  DROP TABLE outbox;
  UPDATE state SET value = json_remove(value, '$.ackedSeq') WHERE key = 'sync' AND json_valid(value);
  `,
];
