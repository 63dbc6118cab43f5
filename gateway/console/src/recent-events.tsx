import { useAccessCodes } from '@seamapi/react';
import { useSeamQuery } from '@seamapi/react-query';

type SeamEvent = { event_id: string; event_type: string; occurred_at: string } & Record<string, unknown>;

/** What happened at the lock, newest first, codes by their names. */
export function RecentEvents({ deviceId }: { deviceId: string }) {
  const { data: events } = useSeamQuery('/events/list', { device_id: deviceId, limit: 20 });
  const { accessCodes } = useAccessCodes({ device_id: deviceId });
  const names = new Map((accessCodes ?? []).map((c) => [c.access_code_id, c.name ?? 'unnamed code']));
  const codeName = (event: SeamEvent) => {
    const id = typeof event.access_code_id === 'string' ? event.access_code_id : null;
    return id === null ? null : (names.get(id) ?? `a deleted code (${id.slice(0, 8)})`);
  };
  return (
    <div className="console-panel">
      <h3>Recent events</h3>
      {events === undefined || events === null ? (
        <p className="console-muted">Loading…</p>
      ) : events.length === 0 ? (
        <p className="console-muted">Nothing yet.</p>
      ) : (
        <ol className="recent-events">
          {(events as unknown as SeamEvent[]).map((event) => (
            <li key={event.event_id} data-testid="event" data-type={event.event_type}>
              <time dateTime={event.occurred_at}>{new Date(event.occurred_at).toLocaleString()}</time>
              <span>{describe(event, codeName(event))}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function describe(event: SeamEvent, code: string | null): string {
  const quoted = code === null ? '' : `“${code}”`;
  switch (event.event_type) {
    case 'lock.unlocked':
      if (event.method === 'keycode') return `Unlocked with ${quoted || 'a code'} on the keypad`;
      if (event.method === 'seamapi') return 'Unlocked remotely';
      return 'Unlocked';
    case 'lock.locked':
      return event.method === 'seamapi' ? 'Locked remotely' : 'Locked';
    case 'lock.access_denied':
      return 'Access denied at the keypad';
    case 'access_code.created':
      return `Code ${quoted} created`;
    case 'access_code.changed':
      return `Code ${quoted} changed`;
    case 'access_code.set_on_device':
      return `Code ${quoted} set on the lock`;
    case 'access_code.failed_to_set_on_device':
      return `Code ${quoted} could not be set on the lock`;
    case 'access_code.removed_from_device':
      return `Code ${quoted} removed from the lock`;
    case 'access_code.modified_external_to_seam':
      return `Code ${quoted} changed at the lock`;
    case 'access_code.deleted_external_to_seam':
      return `Code ${quoted} deleted at the lock`;
    case 'access_code.backup_access_code_pulled':
      return `Backup code pulled for ${quoted}`;
    case 'device.connected':
      return 'Lock came online';
    case 'device.disconnected':
      return 'Lock went offline';
    default:
      return event.event_type;
  }
}
