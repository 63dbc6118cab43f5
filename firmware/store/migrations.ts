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
];
