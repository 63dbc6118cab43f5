import { describe, expect, it } from 'vitest';
import { type DeviceRow, toSeamDevice } from '../../gateway/seam/devices.ts';
import type { SeamStore } from '../../gateway/seam/store.ts';
import { assertSeamResponse } from './seam-schema.ts';

const uuid = '6f2a1c3e-9b8d-4e7f-a1b2-c3d4e5f60718';
const at = '2026-12-01T15:00:00.000Z';
const event = (fields: Record<string, unknown>) => ({
  ok: true,
  events: [
    {
      event_id: uuid,
      workspace_id: uuid,
      connected_account_id: uuid,
      device_id: uuid,
      occurred_at: at,
      created_at: at,
      ...fields,
    },
  ],
});

describe('the @seamapi/types response check used by the gateway tests', () => {
  it('allows exactly the documented deviations and nothing else', () => {
    // Deviation 2: access_code.set_on_device without `code` (no PIN in events).
    expect(() =>
      assertSeamResponse(
        '/events/list',
        200,
        event({ event_type: 'access_code.set_on_device', access_code_id: uuid }),
      ),
    ).not.toThrow();
    // Seam's enums still hold: `remote` is not a lock.unlocked method (the gateway says `seamapi`).
    expect(() =>
      assertSeamResponse('/events/list', 200, event({ event_type: 'lock.unlocked', method: 'remote' })),
    ).toThrow(/does not match/);
    expect(() =>
      assertSeamResponse('/events/list', 200, event({ event_type: 'lock.unlocked', method: 'seamapi' })),
    ).not.toThrow();
    expect(() => assertSeamResponse('/events/list', 200, event({ event_type: 'lock.exploded' }))).toThrow(
      /does not match/,
    );
    // A missing required field fails.
    expect(() =>
      assertSeamResponse('/action_attempts/get', 200, {
        ok: true,
        action_attempt: {
          action_attempt_id: uuid,
          action_type: 'UNLOCK_DOOR',
          status: 'pending',
          result: null,
        },
      }),
    ).toThrow(/does not match/);
    // Error statuses Seam documents without a body schema must still be its error envelope.
    expect(() =>
      assertSeamResponse('/devices/list', 401, { error: { type: 'unauthorized', message: 'no' } }),
    ).not.toThrow();
    expect(() => assertSeamResponse('/devices/list', 400, { message: 'bad' })).toThrow(
      /not a Seam error body/,
    );
  });

  it('accepts the gateway device, of type tumbler_lock (deviation 1), and no other unknown type', () => {
    const store = { workspace: { workspaceId: uuid, connectedAccountId: uuid } } as SeamStore;
    const row: DeviceRow = {
      device_id: 'door1',
      seam_device_id: uuid,
      created_at: Date.parse(at),
      online: 0,
      online_since: null,
      offline_since: Date.parse(at),
      lock_state: 'locked',
      reported_revision: 0,
      reported_codes: null,
      reported_at: null,
      declared_revision: 0,
      lock_codes: null,
    };
    const device = toSeamDevice(store, row);
    expect(() => assertSeamResponse('/devices/get', 200, { ok: true, device })).not.toThrow();
    expect(() =>
      assertSeamResponse('/devices/get', 200, {
        ok: true,
        device: { ...device, device_type: 'august_lock' },
      }),
    ).not.toThrow();
    expect(() =>
      assertSeamResponse('/devices/get', 200, { ok: true, device: { ...device, device_type: 'acme_lock' } }),
    ).toThrow(/does not match/);
  });
});
