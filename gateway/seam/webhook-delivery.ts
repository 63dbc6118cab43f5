import type { Logger } from '../../firmware/log.ts';
import { deviceByLockId } from './devices.ts';
import { type EventRow, toSeamEvent } from './events.ts';
import type { SeamStore } from './store.ts';
import { signDelivery } from './webhooks.ts';

interface DueDelivery {
  delivery_id: string;
  attempts: number;
  url: string;
  secret: string;
  event_id: string;
}

export interface DelivererOptions {
  /** First retry delay; each further one doubles, up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  pollMs?: number;
  requestTimeoutMs?: number;
  log?: Logger;
}

/** Sends queued deliveries, oldest first, and reschedules the ones that fail. */
export class WebhookDeliverer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly pollMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly store: SeamStore,
    private readonly options: DelivererOptions = {},
  ) {
    this.backoffMs = options.backoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 3_600_000;
    this.pollMs = options.pollMs ?? 250;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.deliverDue().finally(() => this.schedule());
    }, this.pollMs);
  }

  /** One pass over the deliveries that are due. */
  async deliverDue(now = Date.now()): Promise<void> {
    const due = this.store.db
      .prepare<[number], DueDelivery>(
        `SELECT d.delivery_id, d.attempts, d.event_id, w.url, w.secret
         FROM seam_webhook_deliveries d JOIN seam_webhooks w ON w.webhook_id = d.webhook_id
         WHERE d.delivered_at IS NULL AND d.next_attempt_at <= ?
         ORDER BY d.next_attempt_at, d.delivery_id LIMIT 50`,
      )
      .all(now);
    for (const delivery of due) {
      if (this.stopped) return;
      await this.deliver(delivery);
    }
  }

  private async deliver(delivery: DueDelivery): Promise<void> {
    const event = this.store.db
      .prepare<[string], EventRow>('SELECT * FROM seam_events WHERE event_id = ?')
      .get(delivery.event_id);
    const device = event && deviceByLockId(this.store, event.device_id);
    if (!event || !device) {
      this.store.db
        .prepare('DELETE FROM seam_webhook_deliveries WHERE delivery_id = ?')
        .run(delivery.delivery_id);
      return;
    }
    const body = JSON.stringify(toSeamEvent(this.store, event, device));
    let failure: string | undefined;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signDelivery(delivery.secret, delivery.delivery_id, body),
        },
        body,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    if (this.stopped && failure) return;
    const now = Date.now();
    if (failure === undefined) {
      this.store.db
        .prepare(
          'UPDATE seam_webhook_deliveries SET delivered_at = ?, attempts = attempts + 1 WHERE delivery_id = ?',
        )
        .run(now, delivery.delivery_id);
      return;
    }
    const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** delivery.attempts);
    this.store.db
      .prepare(
        'UPDATE seam_webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE delivery_id = ?',
      )
      .run(now + delay, failure, delivery.delivery_id);
    this.options.log?.warn('webhook delivery failed; retrying', {
      delivery_id: delivery.delivery_id,
      attempts: delivery.attempts + 1,
      retry_in_ms: delay,
      error: failure,
    });
  }
}
