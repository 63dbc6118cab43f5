import type { Logger } from '../../firmware/log.ts';
import { deviceByLockId } from './devices.ts';
import { type EventRow, toSeamEvent } from './events.ts';
import type { SeamStore } from './store.ts';
import { signDelivery } from './webhooks.ts';

interface DueDelivery {
  delivery_id: string;
  webhook_id: string;
  attempts: number;
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

/**
 * Sends queued deliveries, oldest first, and reschedules the ones that fail. Several
 * workers may share one database: a worker claims the deliveries it sends (an atomic
 * UPDATE ... RETURNING that moves their next attempt past its own request timeout), so
 * no other worker sends the same attempt; a worker that dies mid-send leaves its claim
 * to expire, and another sends it then.
 */
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
      // A database that fails for a moment (a PostgreSQL restart) delays deliveries, no more.
      this.running = this.deliverDue()
        .catch((error: Error) => {
          if (!this.stopped) this.options.log?.warn('webhook delivery pass failed', { error: error.message });
        })
        .finally(() => this.schedule());
    }, this.pollMs);
  }

  /**
   * One pass over the deliveries that are due (at most 50, oldest first). Each claim reads
   * the clock afresh: a pass of slow receivers outlasts a claim made from its start time,
   * and another worker would send a delivery this one is still sending.
   */
  async deliverDue(): Promise<void> {
    for (let sent = 0; sent < 50 && !this.stopped; ) {
      const claimed = await this.claimNext(Date.now());
      if (claimed.length === 0) return;
      for (const delivery of claimed) {
        sent++;
        await this.deliver(delivery);
      }
    }
  }

  /**
   * Takes the oldest due delivery for this worker: its next attempt moves past this
   * worker's request timeout (the claim), in one atomic statement. The due condition is
   * repeated in the outer WHERE: a PostgreSQL worker that waited on another's row lock
   * re-checks it on the row the other committed, and skips it (SKIP LOCKED spares it
   * the wait). The subquery is a scalar one (evaluated once); every row the statement
   * returns is this worker's to send.
   */
  private claimNext(now: number): Promise<DueDelivery[]> {
    const sql = this.store.sql;
    const skipLocked = sql.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    return sql.all<DueDelivery>(
      `UPDATE seam_webhook_deliveries SET next_attempt_at = ?
       WHERE delivered_at IS NULL AND next_attempt_at <= ? AND delivery_id = (
         SELECT delivery_id FROM seam_webhook_deliveries
         WHERE delivered_at IS NULL AND next_attempt_at <= ?
         ORDER BY next_attempt_at, delivery_id LIMIT 1 ${skipLocked})
       RETURNING delivery_id, webhook_id, attempts, event_id`,
      [now + 2 * this.requestTimeoutMs, now, now],
    );
  }

  private async deliver(delivery: DueDelivery): Promise<void> {
    const sql = this.store.sql;
    const event = await sql.get<EventRow>('SELECT * FROM seam_events WHERE event_id = ?', [
      delivery.event_id,
    ]);
    const webhook = await sql.get<{ url: string; secret: string }>(
      'SELECT url, secret FROM seam_webhooks WHERE webhook_id = ?',
      [delivery.webhook_id],
    );
    const device = event && (await deviceByLockId(this.store, event.device_id));
    if (!event || !device || !webhook) {
      await sql.run('DELETE FROM seam_webhook_deliveries WHERE delivery_id = ?', [delivery.delivery_id]);
      return;
    }
    const body = JSON.stringify(toSeamEvent(this.store, event, device));
    let failure: string | undefined;
    try {
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signDelivery(webhook.secret, delivery.delivery_id, body),
        },
        body,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    const now = Date.now();
    if (failure === undefined) {
      await sql.run(
        'UPDATE seam_webhook_deliveries SET delivered_at = ?, attempts = attempts + 1 WHERE delivery_id = ?',
        [now, delivery.delivery_id],
      );
      return;
    }
    // Stopping mid-send: the claim is given back, so the next start sends it at once.
    if (this.stopped) {
      await sql
        .run('UPDATE seam_webhook_deliveries SET next_attempt_at = ? WHERE delivery_id = ?', [
          now,
          delivery.delivery_id,
        ])
        .catch(() => undefined);
      return;
    }
    const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** delivery.attempts);
    await sql.run(
      'UPDATE seam_webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE delivery_id = ?',
      [now + delay, failure, delivery.delivery_id],
    );
    this.options.log?.warn('webhook delivery failed; retrying', {
      delivery_id: delivery.delivery_id,
      attempts: delivery.attempts + 1,
      retry_in_ms: delay,
      error: failure,
    });
  }
}
