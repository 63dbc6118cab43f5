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

export async function createWebhook(
  store: SeamStore,
  url: string,
  eventTypes: string[],
  now = Date.now(),
): Promise<WebhookRow> {
  const row: WebhookRow = {
    webhook_id: randomUUID(),
    url,
    secret: `whsec_${randomBytes(32).toString('base64')}`,
    event_types: JSON.stringify(eventTypes),
    created_at: now,
  };
  await store.sql.run(
    'INSERT INTO seam_webhooks (webhook_id, url, secret, event_types, created_at) VALUES (?, ?, ?, ?, ?)',
    [row.webhook_id, row.url, row.secret, row.event_types, row.created_at],
  );
  return row;
}

export function webhookById(store: SeamStore, id: string): Promise<WebhookRow | undefined> {
  return store.sql.get<WebhookRow>('SELECT * FROM seam_webhooks WHERE webhook_id = ?', [id]);
}

export function listWebhooks(store: SeamStore): Promise<WebhookRow[]> {
  return store.sql.all<WebhookRow>('SELECT * FROM seam_webhooks ORDER BY created_at, webhook_id');
}

export async function updateWebhookEventTypes(
  store: SeamStore,
  id: string,
  eventTypes: string[],
): Promise<boolean> {
  const { changes } = await store.sql.run('UPDATE seam_webhooks SET event_types = ? WHERE webhook_id = ?', [
    JSON.stringify(eventTypes),
    id,
  ]);
  return changes === 1;
}

/** Deletes the webhook and the deliveries still queued for it. */
export function deleteWebhook(store: SeamStore, id: string): Promise<boolean> {
  return store.sql.transaction(async () => {
    await store.sql.run('DELETE FROM seam_webhook_deliveries WHERE webhook_id = ?', [id]);
    return (await store.sql.run('DELETE FROM seam_webhooks WHERE webhook_id = ?', [id])).changes === 1;
  });
}

/** Svix message ids: `msg_` and 24 hex digits. */
const deliveryId = () => `msg_${randomBytes(12).toString('hex')}`;

/** Queues the event for every webhook that takes its type (`*` takes all). Called in the event's transaction. */
export async function queueDeliveries(
  store: SeamStore,
  eventId: string,
  eventType: string,
  now: number,
): Promise<void> {
  const hooks = await store.sql.all<{ webhook_id: string; event_types: string }>(
    'SELECT webhook_id, event_types FROM seam_webhooks',
  );
  for (const hook of hooks) {
    const types = JSON.parse(hook.event_types) as string[];
    if (!types.includes('*') && !types.includes(eventType)) continue;
    await store.sql.run(
      `INSERT INTO seam_webhook_deliveries (delivery_id, webhook_id, event_id, attempts, next_attempt_at)
       VALUES (?, ?, ?, 0, ?)`,
      [deliveryId(), hook.webhook_id, eventId, now],
    );
  }
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
