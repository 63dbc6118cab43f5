import type { LinkContext } from '../context.ts';
import { openSigned } from '../envelope.ts';
import { eventsAckSchema } from '../messages.ts';

/** events/ack: a cumulative, signed acknowledgement; a forged one could make events vanish. */
export function onEventsAck(link: LinkContext, payload: Buffer): void {
  const opened = openSigned(link.signingKey, 'events_ack', link.deviceId, payload, eventsAckSchema);
  if (!opened.ok) {
    link.log.warn('events/ack refused', { error: opened.error, message: opened.message });
    return;
  }
  link.acknowledge(opened.value.seq);
}
