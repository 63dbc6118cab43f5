import { randomBytes } from 'node:crypto';
import type { Firmware } from '../firmware.ts';
import type { MqttConnection } from './connection.ts';
import type { TimeSyncResult } from './context.ts';
import type { PendingTimeRequest } from './handlers/time-res.ts';
import type { Topics } from './topics.ts';

/** A time/req without a time/res within this fails with `timeout`. */
export const TIME_SYNC_TIMEOUT_MS = 5000;
const DAY_MS = 86_400_000;

/**
 * NTP-style time sync with the gateway: the lock times the round trip on the
 * Scheduler's monotonic clock and trusts the answer only within `maxRoundTripMs`.
 */
export class TimeSync {
  private pendingRequest: PendingTimeRequest | undefined;

  constructor(
    private readonly firmware: Firmware,
    private readonly connection: MqttConnection,
    private readonly topics: Topics,
    private readonly maxRoundTripMs: number,
    /** Called after the clock was set (the link republishes `state`). */
    private readonly onSynced: () => void,
  ) {}

  /** The request waiting for its answer, if any (matched by nonce in handlers/time-res.ts). */
  get pending(): PendingTimeRequest | undefined {
    return this.pendingRequest;
  }

  /** Whether a sync is due at connect: the clock is untrusted, never synced, or synced over a day ago. */
  dueAtConnect(): boolean {
    const clock = this.firmware.clock.snapshot();
    return (
      clock.untrusted !== null ||
      clock.lastSyncAt === null ||
      this.firmware.manager.wallNow() - clock.lastSyncAt > DAY_MS
    );
  }

  request(): Promise<TimeSyncResult> {
    if (!this.connection.connected)
      return Promise.resolve({ ok: false, error: 'not_connected', message: 'the MQTT link is down' });
    const { scheduler } = this.firmware;
    const nonce = randomBytes(16).toString('hex');
    return new Promise<TimeSyncResult>((resolve) => {
      const timeout = scheduler.after(TIME_SYNC_TIMEOUT_MS, () => {
        if (this.pendingRequest?.nonce === nonce) this.pendingRequest = undefined;
        resolve({ ok: false, error: 'timeout', message: `no time/res within ${TIME_SYNC_TIMEOUT_MS} ms` });
      });
      this.pendingRequest = {
        nonce,
        sentMono: scheduler.now(),
        resolve: ({ serverTime, rttMs }) => {
          scheduler.cancel(timeout);
          this.pendingRequest = undefined;
          if (rttMs > this.maxRoundTripMs) {
            resolve({
              ok: false,
              error: 'rtt_too_long',
              message: `round trip ${Math.round(rttMs)} ms exceeds ${this.maxRoundTripMs} ms`,
            });
            return;
          }
          const time = Math.round(serverTime + rttMs / 2);
          const before = this.firmware.manager.wallNow();
          // The one rule for clock corrections (firmware/access/clock-correction.ts): the
          // gateway cannot move the clock back beyond the floor tolerance on its own.
          this.firmware.manager
            .setTime(time, 'gateway', 'gateway')
            .then(({ verdict }) => {
              if (!verdict.ok) {
                resolve({ ok: false, error: verdict.error, message: verdict.message });
                return;
              }
              this.onSynced();
              resolve({
                ok: true,
                offset_ms: time - before,
                rtt_ms: Math.round(rttMs),
                accuracy_ms: Math.ceil(rttMs / 2),
                time: new Date(time).toISOString(),
              });
            })
            .catch((error: Error) => resolve({ ok: false, error: 'timeout', message: error.message }));
        },
      };
      void this.connection.publishSigned(this.topics.timeReq, 'time_req', { nonce });
    });
  }
}
