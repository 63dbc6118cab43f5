import type { LinkContext } from '../context.ts';
import { openSigned } from '../envelope.ts';
import { timeResSchema } from '../messages.ts';

export interface PendingTimeRequest {
  nonce: string;
  sentMono: number;
  resolve: (answer: { serverTime: number; rttMs: number }) => void;
}

/** time/res: the gateway's answer to our time/req; matched by nonce, timed on our monotonic clock. */
export function onTimeResponse(
  link: LinkContext,
  payload: Buffer,
  pending: PendingTimeRequest | undefined,
  monoNow: number,
): void {
  const opened = openSigned(link.signingKey, 'time_res', link.deviceId, payload, timeResSchema);
  if (!opened.ok) {
    link.log.warn('time/res refused', { error: opened.error, message: opened.message });
    return;
  }
  if (!pending || opened.value.nonce !== pending.nonce) {
    link.log.warn('time/res for no pending request (late or replayed)', {});
    return;
  }
  pending.resolve({ serverTime: opened.value.server_time, rttMs: monoNow - pending.sentMono });
}
