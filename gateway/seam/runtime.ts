import { z } from 'zod';
import { createLogger, type Logger } from '../../firmware/log.ts';
import { encryptPin, pinKey } from '../../firmware/sync/pin-crypto.ts';
import { DeviceChannel, type GatewayClient } from '../client.ts';
import { GatewayService } from '../service.ts';
import { getDevice, takeCounter } from '../store.ts';
import {
  accessCodeById,
  accessCodeState,
  codeErrorCode,
  declaredCodes,
  lockEntry,
  nextCodeEnd,
  removeEndedCodes,
  toSeamAccessCode,
} from './access-codes.ts';
import {
  type ActionType,
  attemptsAwaiting,
  failInterruptedCommands,
  finishActionAttempt,
  startActionAttempt,
} from './action-attempts.ts';
import { type DeviceRow, deviceByLockId, syncDevices } from './devices.ts';
import { catchUpLockEvents, recordEvent, recordLockEvent } from './events.ts';
import { applyLockCodes, lockCodesSchema } from './lock-codes.ts';
import type { SeamStore } from './store.ts';
import { type DelivererOptions, WebhookDeliverer } from './webhook-delivery.ts';

const stateSchema = z.object({ lock: z.string() }).passthrough();
const reportSchema = z
  .object({
    revision: z.number().int().min(0),
    codes: z.array(
      z
        .object({
          ref: z.string(),
          status: z.enum(['set', 'pending', 'error']),
          error: z.string().optional(),
          message: z.string().optional(),
        })
        .passthrough(),
    ),
  })
  .passthrough();

/** Lock events after which what the lock holds may differ from the last listing. */
const CODE_CHANGING_EVENTS = new Set([
  'code_added',
  'code_removed',
  'code_enabled',
  'code_disabled',
  'backup_assigned',
  'factory_reset',
  'offline_key_rotated',
]);

export interface SeamGatewayOptions {
  /** How long a lock or unlock command waits for the lock's reply (default 10 s). */
  commandTimeoutMs?: number;
  log?: Logger;
  /** Webhook retry timing (tests make it short). */
  webhooks?: Omit<DelivererOptions, 'log'>;
}

/**
 * The gateway behind the Seam API: the MQTT gateway service (events stored and
 * acknowledged, time answered), the locks' availability, state and code reports turned
 * into Seam devices, code statuses and events, desired/codes documents published for
 * the API's access codes, and lock/unlock commands as action attempts.
 */
export class SeamGateway {
  private readonly channels = new Map<string, DeviceChannel>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly log: Logger;
  private readonly commandTimeoutMs: number;
  private closed = false;
  private readonly deliverer: WebhookDeliverer;
  /** Per lock: the list_codes request in flight, and whether another must follow it. */
  private readonly listings = new Map<string, { running: Promise<void>; again: boolean }>();
  private endTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: SeamStore,
    readonly client: GatewayClient,
    options: SeamGatewayOptions = {},
  ) {
    this.log = options.log ?? createLogger('gateway', { level: 'silent', sink: { write: () => undefined } });
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.deliverer = new WebhookDeliverer(store, { ...options.webhooks, log: this.log });
  }

  async start(): Promise<void> {
    failInterruptedCommands(this.store);
    syncDevices(this.store);
    catchUpLockEvents(this.store);
    const service = new GatewayService(this.client, this.store.db, {
      onEvent: (event) =>
        this.guard(() => {
          recordLockEvent(this.store, event);
          if (CODE_CHANGING_EVENTS.has(event.type)) this.refreshLockCodes(event.deviceId);
        }),
      onWarning: (message) => this.log.warn(message),
    });
    await service.start();
    const topics = ['lock/+/availability', 'lock/+/state', 'lock/+/reported/codes'];
    this.client.mqtt.on('message', (topic, payload) => this.guard(() => this.onMessage(topic, payload)));
    this.client.mqtt.on('connect', () => {
      this.client.mqtt
        .subscribeAsync(topics, { qos: 1 })
        .catch((error: Error) => this.log.warn('resubscribe failed', { error: error.message }));
    });
    await this.client.mqtt.subscribeAsync(topics, { qos: 1 });
    // A crash between a change's commit and its publish must not lose the change.
    const declared = this.store.db
      .prepare<[], { device_id: string }>('SELECT device_id FROM seam_devices WHERE declared_revision > 0')
      .all();
    for (const { device_id } of declared) await this.publishDesired(device_id);
    this.deliverer.start();
    this.scheduleCodeEnds();
  }

  /**
   * Removes time-bound codes at their `ends_at` (a new revision without them), then waits
   * for the next end; at most an hour at a time, so a clock change is caught up with.
   */
  scheduleCodeEnds(): void {
    if (this.closed) return;
    clearTimeout(this.endTimer);
    const next = nextCodeEnd(this.store);
    if (next === null) return;
    const delay = Math.min(Math.max(next - Date.now(), 0), 3_600_000);
    this.endTimer = setTimeout(() => {
      this.guard(() => {
        for (const deviceId of removeEndedCodes(this.store)) this.publishInBackground(deviceId);
      });
      this.scheduleCodeEnds();
    }, delay);
    this.endTimer.unref();
  }

  /**
   * Stops taking messages and delivering webhooks, and waits for in-flight work: a
   * command still waiting for its reply ends at its timeout without touching its attempt,
   * which the next start() marks `gateway_restarted`.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.endTimer);
    await this.deliverer.stop();
    await this.client.close();
    await Promise.allSettled([...this.inFlight]);
  }

  private guard(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (error) {
      this.log.error('gateway message handling failed', { error: (error as Error).message });
    }
  }

  private channel(deviceId: string): DeviceChannel | undefined {
    let channel = this.channels.get(deviceId);
    if (!channel) {
      try {
        channel = new DeviceChannel(getDevice(this.store.db, deviceId));
      } catch {
        return undefined;
      }
      this.channels.set(deviceId, channel);
    }
    return channel;
  }

  /**
   * Publishes the lock's desired/codes: every code the API declares for it, PINs sealed
   * to the lock's key (the broker never sees one), under the latest revision taken.
   */
  async publishDesired(deviceId: string): Promise<void> {
    const channel = this.channel(deviceId);
    if (!channel) return;
    const revision = deviceByLockId(this.store, deviceId)?.declared_revision ?? 0;
    if (revision === 0) return;
    const key = pinKey(channel.device.secret);
    const codes = declaredCodes(this.store, deviceId).map((row) => {
      const { pin, ...entry } = lockEntry(row);
      return { ...entry, pin_enc: encryptPin(key, deviceId, entry.ref, pin) };
    });
    const doc = channel.sign('desired_codes', { revision, issued_at: new Date().toISOString(), codes });
    await this.client.mqtt.publishAsync(channel.topics.desiredCodes, JSON.stringify(doc), {
      qos: 1,
      retain: true,
    });
  }

  /**
   * Publishes the lock's document without making the caller wait for the broker: the
   * change is committed, MQTT.js sends in call order, and start() publishes again after
   * a restart, so an outage delays the document but loses nothing.
   */
  publishInBackground(deviceId: string): void {
    this.scheduleCodeEnds();
    const published = this.publishDesired(deviceId).catch((error: Error) =>
      this.log.warn('desired/codes publish failed; it is sent again on restart', {
        device_id: deviceId,
        error: error.message,
      }),
    );
    this.inFlight.add(published);
    void published.finally(() => this.inFlight.delete(published));
  }

  /** Sends a signed lock/unlock command; the returned action attempt resolves from the reply. */
  startLockCommand(device: DeviceRow, target: 'lock' | 'unlock'): { id: string; done: Promise<void> } {
    return this.startCommand(device, {
      type: target === 'lock' ? 'LOCK_DOOR' : 'UNLOCK_DOOR',
      name: target,
      args: {},
    });
  }

  /**
   * Asks the lock what it holds (`list_codes`, a signed command) and applies the answer:
   * its local codes become the unmanaged codes, and gateway codes changed at the lock are
   * noticed and re-set (gateway/seam/lock-codes.ts). One request per lock at a time; a
   * trigger during one makes one more follow. Resolves when the listing is stored (or the
   * lock did not answer: the next trigger asks again).
   */
  refreshLockCodes(deviceId: string): Promise<void> {
    const current = this.listings.get(deviceId);
    if (current) {
      current.again = true;
      return current.running;
    }
    const entry = { running: Promise.resolve(), again: false };
    entry.running = (async () => {
      do {
        entry.again = false;
        await this.listLockCodes(deviceId);
      } while (entry.again && !this.closed);
    })().finally(() => this.listings.delete(deviceId));
    this.listings.set(deviceId, entry);
    this.inFlight.add(entry.running);
    void entry.running.finally(() => this.inFlight.delete(entry.running));
    return entry.running;
  }

  private async listLockCodes(deviceId: string): Promise<void> {
    const channel = this.channel(deviceId);
    if (!channel || this.closed) return;
    try {
      const counter = takeCounter(this.store.db, deviceId);
      const reply = await this.client.command(channel, counter, 'list_codes', {}, this.commandTimeoutMs);
      if (this.closed) return;
      const listing = reply.ok ? lockCodesSchema.safeParse(reply.result) : undefined;
      if (!listing?.success) {
        this.log.warn('list_codes: no usable answer', {
          device_id: deviceId,
          error: reply.ok ? 'bad shape' : (reply.error ?? 'refused'),
        });
        return;
      }
      if (applyLockCodes(this.store, deviceId, listing.data)) await this.publishDesired(deviceId);
    } catch (error) {
      this.log.warn('list_codes failed', { device_id: deviceId, error: (error as Error).message });
    }
  }

  /**
   * An action the lock performs on one signed command: `lock`, `unlock`, `remove_code` (a code added at the
   * lock), `revoke_offline` (an offline code), `sim_keypad` (a simulated lock's keypad).
   * The returned action attempt succeeds once the lock confirms and `confirmed` has run,
   * or fails with the lock's refusal or a timeout.
   */
  startCommand(
    device: DeviceRow,
    command: {
      type: ActionType;
      name: 'lock' | 'unlock' | 'remove_code' | 'revoke_offline' | 'sim_keypad';
      args: Record<string, unknown>;
      accessCodeId?: string;
    },
    confirmed: () => Promise<void> | void = () => undefined,
  ): { id: string; done: Promise<void> } {
    const id = startActionAttempt(this.store, {
      type: command.type,
      deviceId: device.device_id,
      ...(command.accessCodeId ? { accessCodeId: command.accessCodeId } : {}),
    });
    const channel = this.channel(device.device_id)!;
    const done = (async () => {
      let outcome: Parameters<typeof finishActionAttempt>[2];
      try {
        const counter = takeCounter(this.store.db, device.device_id);
        const reply = await this.client.command(
          channel,
          counter,
          command.name,
          command.args,
          this.commandTimeoutMs,
        );
        if (reply.ok && !this.closed) await confirmed();
        outcome = reply.ok
          ? { result: {} }
          : { error: { type: reply.error ?? 'refused', message: reply.message ?? 'the lock refused' } };
      } catch (error) {
        outcome = {
          error: {
            type: 'timeout',
            message: `no reply from lock ${device.device_id} within ${this.commandTimeoutMs} ms: ${(error as Error).message}`,
          },
        };
      }
      if (!this.closed) finishActionAttempt(this.store, id, outcome);
    })();
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return { id, done };
  }

  private onMessage(topic: string, payload: Buffer): void {
    const match = /^lock\/([^/]+)\/(availability|state|reported\/codes)$/.exec(topic);
    if (!match) return;
    const [, deviceId, kind] = match as unknown as [string, string, string];
    const channel = this.channel(deviceId);
    if (!channel) return;
    const device = deviceByLockId(this.store, deviceId);
    if (!device) return;
    if (kind === 'availability') {
      this.onAvailability(device, payload.toString());
      if (payload.toString() === 'online') this.refreshLockCodes(deviceId);
    } else if (kind === 'state') {
      const state = channel.open('state', payload, stateSchema);
      if (state)
        this.store.db
          .prepare('UPDATE seam_devices SET lock_state = ? WHERE device_id = ?')
          .run(state.lock, deviceId);
    } else if (payload.length > 0) {
      const report = channel.open('reported_codes', payload, reportSchema);
      if (report) {
        this.onReport(device, report);
        this.refreshLockCodes(deviceId);
      }
    }
  }

  private onAvailability(device: DeviceRow, value: string): void {
    if (value !== 'online' && value !== 'offline') return;
    const online = value === 'online';
    if ((device.online === 1) === online && device[online ? 'online_since' : 'offline_since'] !== null)
      return;
    const now = Date.now();
    this.store.db
      .transaction(() => {
        this.store.db
          .prepare(
            `UPDATE seam_devices SET online = ?, ${online ? 'online_since' : 'offline_since'} = ? WHERE device_id = ?`,
          )
          .run(online ? 1 : 0, now, device.device_id);
        recordEvent(this.store, {
          deviceId: device.device_id,
          type: online ? 'device.connected' : 'device.disconnected',
          occurredAt: now,
          ...(online ? {} : { fields: { error_code: 'device_disconnected' } }),
        });
      })
      .immediate();
  }

  /**
   * The lock reported a revision: store it, and turn each code's outcome into its event
   * (once per declared revision), finish the action attempts waiting for it, and drop
   * the codes whose removal it confirms.
   */
  private onReport(device: DeviceRow, report: z.infer<typeof reportSchema>): void {
    const now = Date.now();
    const db = this.store.db;
    db.transaction(() => {
      db.prepare(
        'UPDATE seam_devices SET reported_revision = ?, reported_codes = ?, reported_at = ? WHERE device_id = ?',
      ).run(
        report.revision,
        JSON.stringify(
          report.codes.map(({ ref, status, error, message }) => ({ ref, status, error, message })),
        ),
        now,
        device.device_id,
      );
      const current = deviceByLockId(this.store, device.device_id)!;
      const removed = db
        .prepare<[string, number], { access_code_id: string }>(
          'SELECT access_code_id FROM seam_access_codes WHERE device_id = ? AND removed_revision <= ?',
        )
        .all(device.device_id, report.revision);
      for (const { access_code_id } of removed) {
        db.prepare('DELETE FROM seam_access_codes WHERE access_code_id = ?').run(access_code_id);
        recordEvent(this.store, {
          deviceId: device.device_id,
          type: 'access_code.removed_from_device',
          occurredAt: now,
          fields: { access_code_id },
        });
      }
      for (const row of declaredCodes(this.store, device.device_id)) {
        if (row.declared_revision > report.revision || row.outcome_revision >= row.declared_revision)
          continue;
        if (row.backup_state === 'pool') continue; // hidden until pulled
        const { status } = accessCodeState(row, current);
        if (status !== 'set' && status !== 'unset') continue;
        recordEvent(this.store, {
          deviceId: device.device_id,
          type: status === 'set' ? 'access_code.set_on_device' : 'access_code.failed_to_set_on_device',
          occurredAt: now,
          fields: { access_code_id: row.access_code_id },
        });
        db.prepare('UPDATE seam_access_codes SET outcome_revision = ? WHERE access_code_id = ?').run(
          row.declared_revision,
          row.access_code_id,
        );
      }
      for (const attempt of attemptsAwaiting(this.store, device.device_id, report.revision)) {
        const code = attempt.access_code_id ? accessCodeById(this.store, attempt.access_code_id) : undefined;
        if (attempt.action_type === 'DELETE_ACCESS_CODE') {
          finishActionAttempt(this.store, attempt.action_attempt_id, { result: {} }, now);
          continue;
        }
        const state = code ? accessCodeState(code, current) : undefined;
        if (code && state?.status === 'set') {
          // The PIN stays out: it is in the code's own create/get responses only.
          const { code: _pin, ...accessCode } = toSeamAccessCode(this.store, code, current);
          finishActionAttempt(
            this.store,
            attempt.action_attempt_id,
            { result: { access_code: accessCode } },
            now,
          );
        } else if (code && state?.status === 'setting') {
          // A newer change of the same code is on its way; this attempt waits for it.
        } else {
          const reported = state?.reported;
          finishActionAttempt(
            this.store,
            attempt.action_attempt_id,
            {
              error: {
                type: codeErrorCode(reported?.error),
                message: reported
                  ? `the lock refused the code: ${reported.error}: ${reported.message ?? ''}`.trim()
                  : 'the access code is no longer declared for this lock',
              },
            },
            now,
          );
        }
      }
    }).immediate();
  }
}
