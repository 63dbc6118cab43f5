import { z } from 'zod';
import { createLogger, type Logger } from '../../firmware/log.ts';
import { encryptPin, pinKey } from '../../firmware/sync/pin-crypto.ts';
import { DeviceChannel, type GatewayClient } from '../client.ts';
import { GatewayService } from '../service.ts';
import { getDevice, type StoredEvent, takeCounter } from '../store.ts';
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
import { settleConversion } from './convert.ts';
import { type DeviceRow, deviceByLockId, syncDevices } from './devices.ts';
import { catchUpLockEvents, recordEvent, recordLockEvent } from './events.ts';
import { applyLockCodes, lockCodesSchema } from './lock-codes.ts';
import { lockDevice, type SeamStore } from './store.ts';
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

/** Tries at turning one lock event into its Seam event (100 ms doubling to 5 s apart: about a minute). */
const RECORD_ATTEMPTS = 16;

/** Lock events after which what the lock holds may differ from the last listing. */
const CODE_CHANGING_EVENTS = new Set([
  'code_added',
  'code_removed',
  'code_enabled',
  'code_disabled',
  'backup_assigned',
  'code_adopted',
  'code_rescheduled',
  'factory_reset',
  'offline_key_rotated',
]);

export interface SeamGatewayOptions {
  /** How long a lock or unlock command waits for the lock's reply (default 10 s). */
  commandTimeoutMs?: number;
  log?: Logger;
  /** Webhook retry timing (tests make it short). */
  webhooks?: Omit<DelivererOptions, 'log'>;
  /**
   * Several workers share one PostgreSQL database: lock events come through MQTT shared
   * subscriptions of this group (gateway/service.ts), one worker each.
   */
  workerGroup?: string;
  /**
   * The catch-up of lock events committed but never turned into Seam events (their worker
   * died): every worker runs it this often, on events stored at least this long ago
   * (default 10 s).
   */
  catchUpEveryMs?: number;
  /** Replaces setInterval for the catch-up (tests tick it); returns how to stop it. */
  catchUpTimer?: (tick: () => void) => () => void;
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
  /** Work that must run one after another, in arrival order (a lock's events; a lock's messages). */
  private readonly chains = new Map<string, Promise<void>>();
  private endTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly workerGroup: string | undefined;
  private readonly catchUpEveryMs: number;
  private readonly catchUpTimer: (tick: () => void) => () => void;
  private stopCatchUp: (() => void) | undefined;
  private catchingUp: Promise<void> | undefined;

  constructor(
    readonly store: SeamStore,
    readonly client: GatewayClient,
    options: SeamGatewayOptions = {},
  ) {
    this.log = options.log ?? createLogger('gateway', { level: 'silent', sink: { write: () => undefined } });
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.deliverer = new WebhookDeliverer(store, { ...options.webhooks, log: this.log });
    this.workerGroup = options.workerGroup;
    this.catchUpEveryMs = options.catchUpEveryMs ?? 10_000;
    this.catchUpTimer =
      options.catchUpTimer ??
      ((tick) => {
        const timer = setInterval(tick, this.catchUpEveryMs);
        timer.unref();
        return () => clearInterval(timer);
      });
  }

  async start(): Promise<void> {
    // SQLite: this process is the only gateway, so every command still pending lost its
    // reply. PostgreSQL: other workers may be waiting for theirs; a sweep ends the ones
    // pending longer than any command waits.
    const shared = this.store.sql.dialect === 'postgres';
    await failInterruptedCommands(this.store, shared ? Date.now() - 2 * this.commandTimeoutMs : Date.now());
    if (shared) {
      this.sweepTimer = setInterval(
        () => this.guard(() => failInterruptedCommands(this.store, Date.now() - 2 * this.commandTimeoutMs)),
        this.commandTimeoutMs,
      );
      this.sweepTimer.unref();
    }
    await syncDevices(this.store);
    // SQLite: no other gateway is handing events over, so every stored one is due.
    await catchUpLockEvents(this.store, shared ? { storedBy: Date.now() - this.catchUpEveryMs } : {});
    const service = new GatewayService(
      this.client,
      this.store.sql,
      {
        onEvent: (event) => this.onLockEvent(event),
        onWarning: (message) => this.log.warn(message),
      },
      '+',
      this.workerGroup ? { workerGroup: this.workerGroup } : {},
    );
    await service.start();
    // Availability and state are retained and idempotent: every worker follows them. A
    // report is taken by one worker of a group (the service's shared subscription, the
    // same one), so one worker turns it into events and asks the lock for its listing.
    const share = this.workerGroup ? `$share/${this.workerGroup}/` : '';
    const topics = ['lock/+/availability', 'lock/+/state', `${share}lock/+/reported/codes`];
    this.client.mqtt.on('message', (topic, payload) => this.onSeamMessage(topic, payload));
    this.client.mqtt.on('connect', () => {
      this.client.mqtt
        .subscribeAsync(topics, { qos: 1 })
        .catch((error: Error) => this.log.warn('resubscribe failed', { error: error.message }));
    });
    await this.client.mqtt.subscribeAsync(topics, { qos: 1 });
    // A crash between a change's commit and its publish must not lose the change.
    const declared = await this.store.sql.all<{ device_id: string }>(
      'SELECT device_id FROM seam_devices WHERE declared_revision > 0',
    );
    for (const { device_id } of declared) await this.publishDesired(device_id);
    this.deliverer.start();
    this.scheduleCodeEnds();
    this.stopCatchUp = this.catchUpTimer(() => this.guard(() => this.catchUp()));
  }

  /**
   * Lock events whose worker died between committing them and recording their Seam
   * events (or could not record them) become them now. One run at a time per worker;
   * several workers may run at once.
   */
  catchUp(): Promise<void> {
    this.catchingUp ??= (async () => {
      try {
        const translated = await catchUpLockEvents(this.store, {
          storedBy: Date.now() - this.catchUpEveryMs,
        });
        const changed = new Set(
          translated.filter((e) => CODE_CHANGING_EVENTS.has(e.type)).map((e) => e.deviceId),
        );
        for (const deviceId of changed) void this.refreshLockCodes(deviceId);
      } finally {
        this.catchingUp = undefined;
      }
    })();
    return this.catchingUp;
  }

  /**
   * Removes time-bound codes at their `ends_at` (a new revision without them), then waits
   * for the next end; at most an hour at a time, so a clock change is caught up with.
   */
  scheduleCodeEnds(): void {
    this.guard(async () => {
      const next = await nextCodeEnd(this.store);
      if (this.closed) return;
      clearTimeout(this.endTimer);
      if (next === null) return;
      const delay = Math.min(Math.max(next - Date.now(), 0), 3_600_000);
      this.endTimer = setTimeout(() => {
        this.guard(async () => {
          for (const deviceId of await removeEndedCodes(this.store)) this.publishInBackground(deviceId);
          this.scheduleCodeEnds();
        });
      }, delay);
      this.endTimer.unref();
    });
  }

  /**
   * Stops taking messages and delivering webhooks, and waits for in-flight work: a
   * command still waiting for its reply ends at its timeout without touching its attempt,
   * which the next start() marks `gateway_restarted`.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.endTimer);
    clearInterval(this.sweepTimer);
    this.stopCatchUp?.();
    await this.deliverer.stop();
    await this.client.close();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Runs background work (a message, a timer), logs its failure, and lets close() wait for it. */
  private guard(fn: () => Promise<unknown> | unknown): void {
    if (this.closed) return;
    const work = (async () => {
      try {
        await fn();
      } catch (error) {
        if (!this.closed)
          this.log.error('gateway message handling failed', { error: (error as Error).message });
      }
    })();
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Runs `fn` after the work queued under `key` before it (logged and left if it fails). */
  private inOrder(key: string, fn: () => Promise<void>): void {
    if (this.closed) return;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(async () => {
      if (this.closed) return;
      try {
        await fn();
      } catch (error) {
        if (!this.closed)
          this.log.error('gateway message handling failed', { error: (error as Error).message });
      }
    });
    this.chains.set(key, next);
    this.inFlight.add(next);
    void next.finally(() => {
      this.inFlight.delete(next);
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /**
   * A lock event the service handed over becomes its Seam event after the lock's earlier
   * ones. A failure is retried for about a minute (a database restart) before the next
   * event of the lock, keeping the lock's order; after that the catch-up takes it.
   */
  private onLockEvent(event: StoredEvent): void {
    this.inOrder(`events/${event.deviceId}`, async () => {
      for (let attempt = 1, delay = 100; ; attempt++, delay = Math.min(delay * 2, 5000)) {
        try {
          await recordLockEvent(this.store, event);
          break;
        } catch (error) {
          if (this.closed || attempt >= RECORD_ATTEMPTS) throw error;
          this.log.warn('lock event not recorded; retrying', {
            device_id: event.deviceId,
            seq: event.seq,
            error: (error as Error).message,
          });
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
      if (CODE_CHANGING_EVENTS.has(event.type)) void this.refreshLockCodes(event.deviceId);
    });
  }

  /** A lock's availability, state and reports are applied in the order they arrive. */
  private onSeamMessage(topic: string, payload: Buffer): void {
    const deviceId = /^lock\/([^/]+)\//.exec(topic)?.[1];
    if (deviceId) this.inOrder(`messages/${deviceId}`, () => this.onMessage(topic, payload));
  }

  private async channel(deviceId: string): Promise<DeviceChannel | undefined> {
    let channel = this.channels.get(deviceId);
    if (!channel) {
      try {
        channel = new DeviceChannel(await getDevice(this.store.sql, deviceId));
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
    const channel = await this.channel(deviceId);
    if (!channel) return;
    const key = pinKey(channel.device.secret);
    const declaredRevision = async () => (await deviceByLockId(this.store, deviceId))?.declared_revision ?? 0;
    let revision = await declaredRevision();
    // Another publish (of this worker or another) may have read an older revision and
    // reach the broker after this one: once this one is stored, a newer declaration is
    // published again, so the retained document ends as the newest.
    while (revision > 0) {
      const { rows, revision: read } = await this.store.sql.transaction(async () => ({
        revision: await declaredRevision(),
        rows: await declaredCodes(this.store, deviceId),
      }));
      const codes = rows.map((row) => {
        const { pin, ...entry } = lockEntry(row);
        return pin === undefined ? entry : { ...entry, pin_enc: encryptPin(key, deviceId, entry.ref, pin) };
      });
      const doc = channel.sign('desired_codes', {
        revision: read,
        issued_at: new Date().toISOString(),
        codes,
      });
      await this.client.mqtt.publishAsync(channel.topics.desiredCodes, JSON.stringify(doc), {
        qos: 1,
        retain: true,
      });
      revision = await declaredRevision();
      if (revision <= read) return;
    }
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
  startLockCommand(
    device: DeviceRow,
    target: 'lock' | 'unlock',
  ): Promise<{ id: string; done: Promise<void> }> {
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
    const channel = await this.channel(deviceId);
    if (!channel || this.closed) return;
    try {
      const counter = await takeCounter(this.store.sql, deviceId);
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
      if (await applyLockCodes(this.store, deviceId, listing.data)) await this.publishDesired(deviceId);
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
  async startCommand(
    device: DeviceRow,
    command: {
      type: ActionType;
      name: 'lock' | 'unlock' | 'remove_code' | 'revoke_offline' | 'sim_keypad';
      args: Record<string, unknown>;
      accessCodeId?: string;
    },
    confirmed: () => Promise<unknown> | undefined = () => undefined,
  ): Promise<{ id: string; done: Promise<void> }> {
    const channel = (await this.channel(device.device_id))!;
    const id = await startActionAttempt(this.store, {
      type: command.type,
      deviceId: device.device_id,
      ...(command.accessCodeId ? { accessCodeId: command.accessCodeId } : {}),
    });
    const done = (async () => {
      let outcome: Parameters<typeof finishActionAttempt>[2];
      try {
        const counter = await takeCounter(this.store.sql, device.device_id);
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
      if (!this.closed) await finishActionAttempt(this.store, id, outcome);
    })().catch((error: Error) => this.log.error('action attempt not resolved', { error: error.message }));
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return { id, done };
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const match = /^lock\/([^/]+)\/(availability|state|reported\/codes)$/.exec(topic);
    if (!match) return;
    const [, deviceId, kind] = match as unknown as [string, string, string];
    const channel = await this.channel(deviceId);
    if (!channel) return;
    const device = await deviceByLockId(this.store, deviceId);
    if (!device) return;
    if (kind === 'availability') {
      const changed = await this.onAvailability(device, payload.toString());
      // In a group, the worker that recorded the lock's coming online asks for its listing.
      if (payload.toString() === 'online' && (changed || !this.workerGroup))
        void this.refreshLockCodes(deviceId);
    } else if (kind === 'state') {
      const state = channel.open('state', payload, stateSchema);
      if (state)
        await this.store.sql.run('UPDATE seam_devices SET lock_state = ? WHERE device_id = ?', [
          state.lock,
          deviceId,
        ]);
    } else if (payload.length > 0) {
      const report = channel.open('reported_codes', payload, reportSchema);
      if (report) {
        await this.onReport(device, report);
        void this.refreshLockCodes(deviceId);
      }
    }
  }

  /**
   * Online or offline, with the event, once: the change is a conditional UPDATE, so of
   * several workers seeing the same availability message only one records the event.
   */
  private async onAvailability(device: DeviceRow, value: string): Promise<boolean> {
    if (value !== 'online' && value !== 'offline') return false;
    const online = value === 'online';
    const since = online ? 'online_since' : 'offline_since';
    const now = Date.now();
    return this.store.sql.transaction(async () => {
      const { changes } = await this.store.sql.run(
        `UPDATE seam_devices SET online = ?, ${since} = ?
         WHERE device_id = ? AND NOT (online = ? AND ${since} IS NOT NULL)`,
        [online ? 1 : 0, now, device.device_id, online ? 1 : 0],
      );
      if (changes !== 1) return false;
      await recordEvent(this.store, {
        deviceId: device.device_id,
        type: online ? 'device.connected' : 'device.disconnected',
        occurredAt: now,
        ...(online ? {} : { fields: { error_code: 'device_disconnected' } }),
      });
      return true;
    });
  }

  /**
   * The lock reported a revision: store it (never going back to an older one that
   * arrived late), and turn each code's outcome into its event (once per declared
   * revision, whichever worker claims it), finish the action attempts waiting for it,
   * and drop the codes whose removal it confirms.
   */
  private async onReport(device: DeviceRow, report: z.infer<typeof reportSchema>): Promise<void> {
    const now = Date.now();
    const store = this.store;
    const sql = store.sql;
    await sql.transaction(async () => {
      await lockDevice(store, device.device_id);
      const { changes } = await sql.run(
        `UPDATE seam_devices SET reported_revision = ?, reported_codes = ?, reported_at = ?
         WHERE device_id = ? AND reported_revision <= ?`,
        [
          report.revision,
          JSON.stringify(
            report.codes.map(({ ref, status, error, message }) => ({ ref, status, error, message })),
          ),
          now,
          device.device_id,
          report.revision,
        ],
      );
      if (changes !== 1) return;
      const current = (await deviceByLockId(store, device.device_id))!;
      const removed = await sql.all<{ access_code_id: string }>(
        'SELECT access_code_id FROM seam_access_codes WHERE device_id = ? AND removed_revision <= ?',
        [device.device_id, report.revision],
      );
      for (const { access_code_id } of removed) {
        const gone = await sql.run('DELETE FROM seam_access_codes WHERE access_code_id = ?', [
          access_code_id,
        ]);
        if (gone.changes !== 1) continue;
        await recordEvent(store, {
          deviceId: device.device_id,
          type: 'access_code.removed_from_device',
          occurredAt: now,
          fields: { access_code_id },
        });
      }
      for (const row of await declaredCodes(store, device.device_id)) {
        if (row.declared_revision > report.revision || row.outcome_revision >= row.declared_revision)
          continue;
        if (row.backup_state === 'pool') continue; // hidden until pulled
        const { status } = accessCodeState(row, current);
        if (status !== 'set' && status !== 'unset') continue;
        const claimed = await sql.run(
          'UPDATE seam_access_codes SET outcome_revision = ? WHERE access_code_id = ? AND outcome_revision < ?',
          [row.declared_revision, row.access_code_id, row.declared_revision],
        );
        if (claimed.changes !== 1) continue;
        // A code converted from an unmanaged one was on the lock already: converted, or not.
        if (await settleConversion(store, row, status === 'set', now)) continue;
        await recordEvent(store, {
          deviceId: device.device_id,
          type: status === 'set' ? 'access_code.set_on_device' : 'access_code.failed_to_set_on_device',
          occurredAt: now,
          fields: { access_code_id: row.access_code_id },
        });
      }
      for (const attempt of await attemptsAwaiting(store, device.device_id, report.revision)) {
        const code = attempt.access_code_id ? await accessCodeById(store, attempt.access_code_id) : undefined;
        if (attempt.action_type === 'DELETE_ACCESS_CODE') {
          await finishActionAttempt(store, attempt.action_attempt_id, { result: {} }, now);
          continue;
        }
        const state = code ? accessCodeState(code, current) : undefined;
        if (code && state?.status === 'set') {
          // The PIN stays out: it is in the code's own create/get responses only.
          const { code: _pin, ...accessCode } = await toSeamAccessCode(store, code, current);
          await finishActionAttempt(
            store,
            attempt.action_attempt_id,
            { result: { access_code: accessCode } },
            now,
          );
        } else if (code && state?.status === 'setting') {
          // A newer change of the same code is on its way; this attempt waits for it.
        } else {
          const reported = state?.reported;
          await finishActionAttempt(
            store,
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
    });
  }
}
