import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { syncDevices } from '../../gateway/seam/devices.ts';
import { listSeamEvents, recordLockEvent } from '../../gateway/seam/events.ts';
import { applyLockCodes, type LockCodes } from '../../gateway/seam/lock-codes.ts';
import { openSeamStore } from '../../gateway/seam/store.ts';
import { unmanagedCodeId } from '../../gateway/seam/unmanaged.ts';
import { addDevice, type StoredEvent } from '../../gateway/store.ts';
import { testDir } from './world.ts';

const CREATED_AT = Date.UTC(2026, 10, 29, 12, 0, 0);

const lockEvent = (seq: number, type: string, data: Record<string, unknown>): StoredEvent => ({
  deviceId: 'door1',
  incarnation: 'a'.repeat(32),
  seq,
  prevSeq: seq - 1,
  bootId: '0123456789abcdef',
  at: new Date(CREATED_AT + seq * 1000).toISOString(),
  type,
  data,
  hash: null,
  prevHash: null,
  chainBreak: false,
});

const listing = (codes: Array<{ id: number; createdAt: number }>): LockCodes => ({
  applied_revision: 0,
  offline: { key_version: 1, length: 12, timezone: 'UTC' },
  codes: codes.map(({ id, createdAt }) => ({
    id,
    ref: null,
    source: 'local',
    name: `code ${id}`,
    kind: 'ongoing',
    role: 'standard',
    enabled: true,
    assigned: true,
    starts_at: null,
    ends_at: null,
    created_at: new Date(createdAt).toISOString(),
  })),
});

async function store() {
  const opened = await openSeamStore(join(testDir(), 'gateway.db'));
  onTestFinished(() => opened.sql.close());
  await addDevice(opened.sql, 'door1', randomBytes(32));
  await syncDevices(opened);
  return opened;
}

const unmanagedEvents = async (opened: Awaited<ReturnType<typeof store>>) =>
  (await listSeamEvents(opened, { limit: 100 }))
    .filter((e) => e.event_type.startsWith('access_code.unmanaged.'))
    .map((e) => [e.event_type, (e as { access_code_id?: string }).access_code_id])
    .reverse();

describe('access_code.unmanaged.created / removed come from the lock events, once, with the listed id', () => {
  it('names a code by lock id and creation instant: stable, a UUID, distinct for a reused id', () => {
    const id = unmanagedCodeId('door1', 3, CREATED_AT);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(unmanagedCodeId('door1', 3, CREATED_AT)).toBe(id);
    expect(unmanagedCodeId('door1', 3, CREATED_AT + 1)).not.toBe(id);
    expect(unmanagedCodeId('door2', 3, CREATED_AT)).not.toBe(id);
  });

  it('a listing first, then the events (and again, replayed): one created, one removed, the same id', async () => {
    const opened = await store();
    await applyLockCodes(opened, 'door1', listing([{ id: 3, createdAt: CREATED_AT }]));
    const listed = await opened.sql.all<{ access_code_id: string }>(
      'SELECT access_code_id FROM seam_unmanaged_codes',
    );
    const id = unmanagedCodeId('door1', 3, CREATED_AT);
    expect(listed).toEqual([{ access_code_id: id }]);

    const added = lockEvent(1, 'code_added', {
      code_id: 3,
      code_name: 'code 3',
      source: 'local',
      created_at: CREATED_AT,
    });
    const removed = lockEvent(2, 'code_removed', {
      code_id: 3,
      code_name: 'code 3',
      source: 'local',
      created_at: CREATED_AT,
    });
    for (const event of [added, removed, added, removed]) await recordLockEvent(opened, event);
    expect(await unmanagedEvents(opened)).toEqual([
      ['access_code.unmanaged.created', id],
      ['access_code.unmanaged.removed', id],
    ]);
    expect(await opened.sql.all('SELECT * FROM seam_unmanaged_codes')).toEqual([]);
  });

  it('a code added and removed between listings is seen; the id a later code reuses names another code', async () => {
    const opened = await store();
    const later = CREATED_AT + 60_000;
    await recordLockEvent(
      opened,
      lockEvent(1, 'code_added', { code_id: 3, source: 'local', created_at: CREATED_AT }),
    );
    await recordLockEvent(
      opened,
      lockEvent(2, 'code_removed', { code_id: 3, source: 'local', created_at: CREATED_AT }),
    );
    await recordLockEvent(
      opened,
      lockEvent(3, 'code_added', { code_id: 3, source: 'local', created_at: later }),
    );
    // Codes the gateway or the backup pool holds are not unmanaged.
    await recordLockEvent(
      opened,
      lockEvent(4, 'code_added', { code_id: 4, source: 'gateway', created_at: later }),
    );
    await recordLockEvent(
      opened,
      lockEvent(5, 'code_removed', { code_id: 5, source: 'backup', created_at: later }),
    );
    await applyLockCodes(opened, 'door1', listing([{ id: 3, createdAt: later }]));
    const first = unmanagedCodeId('door1', 3, CREATED_AT);
    const second = unmanagedCodeId('door1', 3, later);
    expect(await unmanagedEvents(opened)).toEqual([
      ['access_code.unmanaged.created', first],
      ['access_code.unmanaged.removed', first],
      ['access_code.unmanaged.created', second],
    ]);
    expect(await opened.sql.all('SELECT access_code_id FROM seam_unmanaged_codes')).toEqual([
      { access_code_id: second },
    ]);
  });
});
