import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { SeamStore } from './store.ts';

/**
 * Webhooks deliver the gateway's Seam events signed the way Seam's are (Svix headers:
 * `svix-id`, `svix-timestamp`, `svix-signature: v1,<base64 HMAC-SHA256>` over
 * `id.timestamp.body` with the webhook's `whsec_` secret), so `@seamapi/webhook`
 * verifies them. A delivery is queued in the same transaction as its event and retried
 * with backoff until the receiver answers 2xx: a restart or an outage delays it, never
 * drops it.
 */
export interface WebhookRow {
  webhook_id: string;
  url: string;
  secret: string;
  event_types: string;
  created_at: number;
}

export function toSeamWebhook(row: WebhookRow) {
  return {
    webhook_id: row.webhook_id,
    url: row.url,
    secret: row.secret,
    event_types: JSON.parse(row.event_types) as string[],
  };
}

export function createWebhook(
  store: SeamStore,
  url: string,
  eventTypes: string[],
  now = Date.now(),
): WebhookRow {
  const row: WebhookRow = {
    webhook_id: randomUUID(),
    url,
    secret: `whsec_${randomBytes(32).toString('base64')}`,
    event_types: JSON.stringify(eventTypes),
    created_at: now,
  };
  store.db
    .prepare(
      'INSERT INTO seam_webhooks (webhook_id, url, secret, event_types, created_at) VALUES (@webhook_id, @url, @secret, @event_types, @created_at)',
    )
    .run(row);
  return row;
}

export function webhookById(store: SeamStore, id: string): WebhookRow | undefined {
  return store.db.prepare<[string], WebhookRow>('SELECT * FROM seam_webhooks WHERE webhook_id = ?').get(id);
}

export function listWebhooks(store: SeamStore): WebhookRow[] {
  return store.db
    .prepare<[], WebhookRow>('SELECT * FROM seam_webhooks ORDER BY created_at, webhook_id')
    .all();
}

export function updateWebhookEventTypes(store: SeamStore, id: string, eventTypes: string[]): boolean {
  return (
    store.db
      .prepare('UPDATE seam_webhooks SET event_types = ? WHERE webhook_id = ?')
      .run(JSON.stringify(eventTypes), id).changes === 1
  );
}

/** Deletes the webhook and the deliveries still queued for it. */
export function deleteWebhook(store: SeamStore, id: string): boolean {
  return store.db
    .transaction(() => {
      store.db.prepare('DELETE FROM seam_webhook_deliveries WHERE webhook_id = ?').run(id);
      return store.db.prepare('DELETE FROM seam_webhooks WHERE webhook_id = ?').run(id).changes === 1;
    })
    .immediate();
}

/** Queues the event for every webhook that takes its type (`*` takes all). Called in the event's transaction. */
export function queueDeliveries(store: SeamStore, eventId: string, eventType: string, now: number): void {
  store.db
    .prepare(
      `INSERT INTO seam_webhook_deliveries (delivery_id, webhook_id, event_id, attempts, next_attempt_at)
       SELECT 'msg_' || lower(hex(randomblob(12))), webhook_id, ?, 0, ?
       FROM seam_webhooks
       WHERE EXISTS (SELECT 1 FROM json_each(seam_webhooks.event_types) WHERE value IN ('*', ?))`,
    )
    .run(eventId, now, eventType);
}

/** The Svix-style headers for one delivery of `body`. */
export function signDelivery(secret: string, deliveryId: string, body: string, now = Date.now()) {
  const timestamp = String(Math.floor(now / 1000));
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signature = createHmac('sha256', key).update(`${deliveryId}.${timestamp}.${body}`).digest('base64');
  return {
    'svix-id': deliveryId,
    'svix-timestamp': timestamp,
    'svix-signature': `v1,${signature}`,
  };
}
