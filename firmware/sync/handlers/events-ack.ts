import type { LinkContext } from '../context.ts';
import { openSigned } from '../envelope.ts';
import { eventsAckSchema } from '../messages.ts';

/**
 * events/ack: a cumulative, signed acknowledgement. A forged one could make events
 * vanish, and so could a genuine one replayed from the lock's previous incarnation or
 * one beyond the newest event issued: all are refused, changing nothing.
 */
export function onEventsAck(link: LinkContext, payload: Buffer): void {
  const opened = openSigned(link.signingKey, 'events_ack', link.deviceId, payload, eventsAckSchema);
  if (!opened.ok) {
    link.reject('events/ack', opened.error, opened.message);
    return;
  }
  const refused = link.acknowledge(opened.value.seq, opened.value.incarnation);
  if (refused) link.reject('events/ack', refused.error, refused.message);
}
