import { DateTime } from 'luxon';
import type { Hal, HalInputs } from '../hal/index.ts';
import type { Key } from '../hal/keypad.ts';
import { Listeners } from '../hal/listeners.ts';
import type { Scheduler, TimerHandle } from '../hal/scheduler.ts';
import type { CorrectionVerdict } from './access/clock-correction.ts';
import { PIN_MAX_LENGTH, PIN_MIN_LENGTH } from './access/code-spec.ts';
import { countsUses } from './access/code-status.ts';
import { countsAsWrongEntry, decide } from './access/decide.ts';
import {
  INITIAL_LOCKOUT,
  isLockedOut,
  type LockoutPolicy,
  type LockoutState,
  recordFailure,
  recordSuccess,
  settle,
} from './access/lockout.ts';
import { v2CodeLength } from './access/offline.ts';
import { judgeRemote, type RemoteActor, type RemoteTarget, type RemoteVerdict } from './access/remote.ts';
import { describeSchedule } from './access/schedule.ts';
import { type Credential, type Decision, MODES, type Mode } from './access/types.ts';
import type { ClockReading, TrustedClock, TrustSource } from './clock.ts';
import { CoalescedAudit } from './coalesced-audit.ts';
import type { FirmwareConfig } from './config.ts';
import { maxEntryLength } from './config.ts';
import { EntryCollector, type EntryEvent } from './entry.ts';
import { TumblerError } from './errors.ts';
import { LockMachine, type LockState } from './lock.ts';
import type { Logger } from './log.ts';
import type { AuditLog, AuditRow } from './store/audit.ts';
import type { CodeStore } from './store/codes.ts';
import type { Db } from './store/db.ts';
import type { StateStore } from './store/state.ts';
import { isStorageError, StorageHealth, type StorageStatus } from './store/storage-health.ts';

export type DecisionSource = 'keypad' | 'wiegand' | 'remote' | 'technician' | 'matter';

/** An offline-code check plugged into the decision (firmware/access/offline-path.ts). */
export interface OfflineResolver {
  /**
   * The credential an offline-length entry names, or undefined for a code that does
   * not verify. Reads only; `timezone` is the lock's current one.
   */
  resolve(entry: string, reading: ClockReading, timezone: string): Credential | undefined;
  /** Records a grant (single use, activation); runs inside the decision's transaction. */
  recordGrant(entry: string, credential: Credential, at: number): void;
}

export interface DecisionRecord {
  seq: number;
  at: number;
  decision: Decision;
  clockTrusted: boolean;
  source: DecisionSource;
  /** Plain words for technicians, e.g. the schedule the code has. */
  detail?: string;
}

export interface Settings {
  mode: Mode;
  timezone: string;
}

export interface LockStatus {
  lock: LockState;
  mode: Mode;
  door: 'open' | 'closed';
  timezone: string;
  clockTrusted: boolean;
  clockUntrustedReason: string | null;
  /** `until` is wall time estimated from the time left, which counts on monotonic time. */
  lockout: {
    active: boolean;
    until: number | null;
    remainingMs: number;
    consecutiveFailures: number;
    dailyFailures: number;
  };
  entryLength: number;
  lastDecision: DecisionRecord | null;
  /** Whether the last write committed; while not, every decision is refused. */
  storage: StorageStatus;
  /** The board's tamper switch and power-fail input: null when the board has none. */
  tamper: 'open' | 'closed' | null;
  power: 'ok' | 'failing' | null;
}

export interface ManagerDeps {
  hal: Hal;
  scheduler: Scheduler;
  db: Db;
  codes: CodeStore;
  audit: AuditLog;
  state: StateStore;
  clock: TrustedClock;
  config: FirmwareConfig;
  log: Logger;
  offline?: OfflineResolver;
}

export type ManagerEvent =
  | { type: 'decision'; record: DecisionRecord }
  /** The decision is durable and the relay has not moved yet. */
  | { type: 'committed'; record: DecisionRecord }
  | { type: 'lock'; state: LockState }
  | { type: 'entry'; length: number }
  | { type: 'audit'; row: AuditRow }
  | { type: 'mode'; mode: Mode };

/**
 * The one lock manager every adapter forwards into (keypad, MQTT, serial console,
 * simulator). It owns the decision pipeline: read trusted time, decide, commit the
 * consequences (use counts, lockout, audit) in one transaction, and only then move
 * the relay.
 */
export class LockManager {
  readonly lock: LockMachine;
  private readonly entry: EntryCollector;
  private readonly events = new Listeners<ManagerEvent>();
  private readonly cleanup: Array<() => void> = [];
  private lockout: LockoutState;
  /** Monotonic time at which `lockout.remainingMs` was taken. */
  private lockoutMono: number;
  private settings: Settings;
  private lastDecision: DecisionRecord | null = null;
  private readonly storage = new StorageHealth();
  private lastClock: ClockReading = {
    epochMs: 0,
    trusted: true,
    untrustedReason: null,
    floor: 0,
    highWater: 0,
  };
  private lastClockMono = 0;
  private inFlight = 0;
  private readonly policy: LockoutPolicy;
  /** Home Assistant cannot sign: whoever may publish its `ha/set` can repeat a refusal at will. */
  private readonly unsignedRefusals: CoalescedAudit;
  /** Bad Wiegand frames: noise or a tampered cable can repeat them at will. */
  private readonly wiegandRefusals: CoalescedAudit;
  private doorHeldOpen: TimerHandle | undefined;

  constructor(private readonly deps: ManagerDeps) {
    const { hal, scheduler, config, state } = deps;
    this.policy = {
      wrongCodeLimit: config.wrongCodeLimit,
      lockoutSeconds: config.lockoutSeconds,
      lockoutMaxSeconds: config.lockoutMaxSeconds,
      dailyFailureLimit: config.dailyFailureLimit,
    };
    this.lockout = state.get('lockout', INITIAL_LOCKOUT);
    this.lockoutMono = scheduler.now();
    this.unsignedRefusals = new CoalescedAudit({
      scheduler,
      wallNow: () => this.wallNow(),
      write: (data, at) => {
        if (!deps.db.open) return;
        try {
          this.note('remote_refused', data, at);
        } catch (error) {
          // Runs from a timer and at dispose: a store that changed under us is not fatal here.
          deps.log.warn('remote refusals not written', { error: (error as Error).message });
        }
      },
    });
    this.wiegandRefusals = new CoalescedAudit({
      scheduler,
      wallNow: () => this.wallNow(),
      write: (data, at) => {
        if (!deps.db.open) return;
        try {
          this.note('wiegand_refused', data, at);
        } catch (error) {
          deps.log.warn('Wiegand refusals not written', { error: (error as Error).message });
        }
      },
    });
    this.settings = state.get<Settings>('settings', { mode: 'normal', timezone: config.timezone });
    this.lock = new LockMachine(hal.actuator, hal.door, scheduler, {
      actuationTimeoutMs: config.actuationTimeoutMs,
      retries: config.actuationRetries,
      autoRelockMs: config.autoRelockSeconds * 1000,
    });
    this.entry = new EntryCollector(
      scheduler,
      { timeoutMs: config.entryTimeoutSeconds * 1000, maxLength: maxEntryLength(config) },
      (event) => this.onEntry(event),
    );
    this.cleanup.push(
      hal.keypad.onKey((key) => this.onKey(key)),
      ...this.watchInputs(hal.inputs),
      ...this.watchWiegand(hal),
      this.lock.onEvent((event) => this.onLockEvent(event)),
      deps.audit.onAppend((row) => this.events.emit({ type: 'audit', row })),
      deps.clock.onTrustChange((reading, previous) => {
        this.noteClock(reading);
        this.note(
          reading.trusted ? 'clock_trusted' : 'clock_untrusted',
          {
            reason: reading.untrustedReason,
            previous_floor: previous.floor,
          },
          reading.epochMs,
        );
      }),
    );
  }

  /** Boot: judge the clock, put the bolt in its safe state, apply the persisted mode. */
  async start(): Promise<void> {
    this.noteClock(await this.deps.clock.now());
    this.note(
      'boot',
      { mode: this.settings.mode, clock_trusted: this.lastClock.trusted },
      this.lastClock.epochMs,
    );
    if (this.settings.mode === 'passage') this.lock.setHoldOpen(true);
    this.lock.start();
    this.deps.hal.indicator.setLed('off');
  }

  /** Stops timers and listeners; the bolt stays where it is. */
  dispose(): void {
    this.deps.scheduler.cancel(this.doorHeldOpen);
    this.unsignedRefusals.flush();
    this.wiegandRefusals.flush();
    this.entry.reset();
    this.lock.dispose();
    for (const off of this.cleanup) off();
    this.events.clear();
  }

  onEvent(listener: (event: ManagerEvent) => void): () => void {
    return this.events.add(listener);
  }

  /** Operations still running (decisions awaiting the clock); the simulator waits for 0. */
  get busy(): number {
    return this.inFlight;
  }

  status(): LockStatus {
    const now = this.wallNow();
    const { inputs } = this.deps.hal;
    const lockout = this.currentLockout();
    return {
      lock: this.lock.state,
      mode: this.settings.mode,
      door: this.deps.hal.door.state(),
      timezone: this.settings.timezone,
      clockTrusted: this.lastClock.trusted,
      clockUntrustedReason: this.lastClock.untrustedReason,
      lockout: {
        active: isLockedOut(lockout),
        until: isLockedOut(lockout) ? now + lockout.remainingMs : null,
        remainingMs: lockout.remainingMs,
        consecutiveFailures: lockout.consecutiveFailures,
        dailyFailures: lockout.dailyFailures,
      },
      entryLength: this.entry.length,
      lastDecision: this.lastDecision,
      storage: this.storage.snapshot(),
      tamper: inputs.tamper ? (inputs.tamper.active() ? 'open' : 'closed') : null,
      power: inputs.powerFail ? (inputs.powerFail.active() ? 'failing' : 'ok') : null,
    };
  }

  getSettings(): Settings {
    return { ...this.settings };
  }

  /** Judges one entry as if typed and `#` pressed. Refusals are values. */
  async submitEntry(digits: string, source: DecisionSource = 'keypad'): Promise<DecisionRecord> {
    this.inFlight++;
    try {
      const reading = await this.deps.clock.now();
      this.noteClock(reading);
      return this.decideAndCommit(digits, reading, source);
    } finally {
      this.inFlight--;
    }
  }

  async setMode(mode: Mode, actor: string): Promise<void> {
    const previous = this.settings.mode;
    if (previous === mode) return;
    const reading = await this.readClock();
    const settings = { ...this.settings, mode };
    this.write('mode change', () => {
      this.deps.state.set('settings', settings);
      this.record('mode_changed', { from: previous, to: mode, by: actor }, reading.epochMs);
    });
    this.settings = settings;
    this.applyMode(previous, mode);
  }

  /** Moves the bolt for a committed mode change: passage holds it open, leaving passage locks. */
  private applyMode(previous: Mode, mode: Mode): void {
    this.lock.setHoldOpen(mode === 'passage');
    if (previous === 'passage' && mode !== 'passage') this.lock.lock();
    if (previous !== mode) this.events.emit({ type: 'mode', mode });
  }

  async setTimezone(timezone: string, actor: string): Promise<void> {
    const reading = await this.readClock();
    const previous = this.settings.timezone;
    const settings = { ...this.settings, timezone };
    this.write('time zone change', () => {
      this.deps.state.set('settings', settings);
      this.record('timezone_changed', { from: previous, to: timezone, by: actor }, reading.epochMs);
    });
    this.settings = settings;
  }

  /** Clears the keypad lockout and its counters (factory reset, technician). */
  resetLockout(): void {
    this.lockout = { ...INITIAL_LOCKOUT };
    this.lockoutMono = this.deps.scheduler.now();
    this.deps.state.set('lockout', this.lockout);
  }

  /** The lockout state counted down to now on monotonic time (not the wall clock). */
  private currentLockout(): LockoutState {
    return settle(this.lockout, Math.max(0, this.deps.scheduler.now() - this.lockoutMono));
  }

  /**
   * Sets the time from a trusted source (technician, gateway, simulator). A move back
   * beyond the floor tolerance is refused unless confirmed (the refusal is a value and
   * is audited as `clock_backward_refused`); a confirmed one is audited as
   * `clock_backward` with both times. Either way nothing expired or used re-opens
   * (firmware/access/clock-correction.ts).
   */
  async setTime(
    epochMs: number,
    source: TrustSource,
    actor: string,
    options: { confirmedBackward?: boolean } = {},
  ): Promise<{ verdict: CorrectionVerdict; before: ClockReading; after: ClockReading }> {
    const before = await this.readClock();
    const { highWater } = this.deps.clock.snapshot();
    const verdict = await this.deps.clock.setTrusted(epochMs, source, options);
    const times = {
      from: new Date(before.epochMs).toISOString(),
      to: new Date(epochMs).toISOString(),
      high_water: highWater > 0 ? new Date(highWater).toISOString() : null,
      step_s: Math.round(verdict.stepMs / 1000),
      source,
      by: actor,
    };
    if (!verdict.ok) this.record('clock_backward_refused', times, before.epochMs);
    const after = await this.readClock();
    if (verdict.ok && verdict.backward) this.record('clock_backward', times, after.epochMs);
    return { verdict, before, after };
  }

  /**
   * Unlock or lock without a keypad entry (gateway, Home Assistant, technician): judged
   * by the one remote rule (firmware/access/remote.ts) and audited before the relay
   * moves; a refusal is audited as `remote_refused` and returned, and the bolt stays.
   * Home Assistant's refusals are coalesced (firmware/coalesced-audit.ts): it cannot
   * sign, so a flood of them must not push real events out of the outbox.
   */
  async actuate(
    target: RemoteTarget,
    actor: RemoteActor,
    options: { homeAssistantUnlock?: boolean } = {},
  ): Promise<RemoteVerdict> {
    const reading = await this.readClock();
    const verdict = judgeRemote({
      actor,
      target,
      mode: this.settings.mode,
      homeAssistantUnlock: options.homeAssistantUnlock ?? false,
    });
    if (!verdict.allowed) {
      const refusal = { by: actor, target, reason: verdict.reason };
      if (actor === 'home_assistant') this.unsignedRefusals.note(refusal);
      else this.record('remote_refused', refusal, reading.epochMs);
      return verdict;
    }
    this.record(target === 'unlocked' ? 'remote_unlock' : 'remote_lock', { by: actor }, reading.epochMs);
    if (target === 'unlocked') this.lock.unlock();
    else this.lock.lock();
    return verdict;
  }

  /**
   * Factory reset: erases every code, the keypad lockout and the mode (back to normal),
   * and what `eraseMore` erases (offline-code state, console login lockout), in one
   * transaction written as one `factory_reset` row; then ends passage's hold-open.
   */
  async factoryReset<T extends Record<string, unknown>>(
    actor: string,
    eraseMore: (at: number) => T,
  ): Promise<{ codesRemoved: number; previousMode: Mode; erased: T }> {
    const at = (await this.readClock()).epochMs;
    const previousMode = this.settings.mode;
    const settings: Settings = { ...this.settings, mode: 'normal' };
    const { codes, db, state } = this.deps;
    const result = db
      .transaction(() => {
        let codesRemoved = 0;
        for (const code of codes.list()) if (codes.remove(code.id)) codesRemoved++;
        const erased = eraseMore(at);
        state.set('settings', settings);
        this.resetLockout();
        this.record(
          'factory_reset',
          { by: actor, codes_removed: codesRemoved, previous_mode: previousMode, ...erased },
          at,
        );
        return { codesRemoved, previousMode, erased };
      })
      .immediate();
    this.settings = settings;
    this.applyMode(previousMode, 'normal');
    return result;
  }

  /**
   * Writes an audit row (it carries the clock floor: firmware/store/audit.ts stamp). For a
   * row that must exist before something happens: a failed write throws TumblerError
   * `storage_failed`.
   */
  record(type: string, data: Record<string, unknown>, at: number): AuditRow {
    return this.write(`audit ${type}`, () => this.deps.audit.append(type, data, at));
  }

  /**
   * Records something that has already happened (the bolt moved, the door opened, the
   * clock changed trust). A failed write is a log line and shows in status().storage;
   * it never throws into the hardware callback that reported it.
   */
  note(type: string, data: Record<string, unknown>, at: number): AuditRow | undefined {
    try {
      return this.record(type, data, at);
    } catch (error) {
      if (error instanceof TumblerError && error.code === 'storage_failed') return undefined;
      throw error;
    }
  }

  /**
   * Runs `work` in one immediate transaction. A write the storage refuses (full disk,
   * I/O error) is logged, shows in status().storage until a later write commits, and
   * becomes TumblerError `storage_failed`: whatever depended on it does not happen.
   */
  private write<T>(what: string, work: () => T): T {
    const { db, log, scheduler } = this.deps;
    const outermost = !db.inTransaction;
    let result: T;
    try {
      result = db.transaction(work).immediate();
    } catch (error) {
      if (!isStorageError(error)) throw error;
      const first = this.storage.failed(error, scheduler.now());
      const { full, lastError } = this.storage.snapshot();
      if (first)
        log.error(
          full
            ? 'storage full: writes fail, every decision is refused until a write succeeds'
            : 'storage failing: writes fail, every decision is refused until a write succeeds',
          { write: what, error: lastError },
        );
      else log.warn('write failed', { write: what, error: lastError });
      throw new TumblerError(
        'storage_failed',
        `${what} not written: ${full ? 'storage full' : 'storage error'} (${lastError}); nothing changed`,
      );
    }
    if (outermost) {
      const ended = this.storage.succeeded();
      if (ended) log.info('storage writable again', { failed_writes: ended.failedWrites });
    }
    return result;
  }

  /** Reads and judges the clock now (after the RTC was set, or to refresh status). */
  async refreshClock(): Promise<ClockReading> {
    return this.readClock();
  }

  /** Wall time now, from the last RTC reading plus the monotonic time since. */
  wallNow(): number {
    return this.lastClock.epochMs + (this.deps.scheduler.now() - this.lastClockMono);
  }

  private noteClock(reading: ClockReading): void {
    this.lastClock = reading;
    this.lastClockMono = this.deps.scheduler.now();
  }

  private async readClock(): Promise<ClockReading> {
    this.inFlight++;
    try {
      this.noteClock(await this.deps.clock.now());
      return this.lastClock;
    } finally {
      this.inFlight--;
    }
  }

  private onKey(key: Key): void {
    this.deps.hal.indicator.beep('click');
    this.entry.press(key);
  }

  private onEntry(event: EntryEvent): void {
    if (event.type === 'progress') {
      this.deps.hal.indicator.setLed('blue');
      this.events.emit({ type: 'entry', length: event.length });
    } else if (event.type === 'cleared') {
      this.deps.hal.indicator.setLed('off');
      this.events.emit({ type: 'entry', length: 0 });
    } else {
      this.events.emit({ type: 'entry', length: 0 });
      this.submitEntry(event.digits, 'keypad').catch((error: unknown) => {
        this.deps.log.error('decision failed', { error: (error as Error).message });
        this.deps.hal.indicator.setLed('red');
        this.deps.hal.indicator.beep('denied');
      });
    }
  }

  /** Synchronous from lookup to commit, so two entries can never interleave. */
  private decideAndCommit(digits: string, reading: ClockReading, source: DecisionSource): DecisionRecord {
    const { config, codes, state, offline, hal } = this.deps;
    const now = reading.epochMs;
    // The lockout counted down to now; kept in memory only once the decision is committed.
    const lockoutMono = this.deps.scheduler.now();
    let lockout = this.currentLockout();
    const lockedOut = isLockedOut(lockout);
    const offlineV2 = v2CodeLength(config.offlineCodeLength);
    const isOffline = digits.length === config.offlineCodeLength || digits.length === offlineV2;
    let credential: Credential | undefined;
    // The gateway's id for a code it manages (desired/codes `ref`), so its events can name the code.
    let codeRef: string | null = null;
    if (!lockedOut && /^\d+$/.test(digits)) {
      if (isOffline) credential = offline?.resolve(digits, reading, this.settings.timezone);
      else if (digits.length >= PIN_MIN_LENGTH && digits.length <= PIN_MAX_LENGTH) {
        const record = codes.findByPin(digits);
        credential = record;
        codeRef = record?.ref ?? null;
      }
    }
    const decision = decide({
      entry: digits,
      acceptedLengths: {
        min: PIN_MIN_LENGTH,
        max: PIN_MAX_LENGTH,
        offline: config.offlineCodeLength,
        offlineV2,
      },
      credential,
      now,
      clockTrusted: reading.trusted,
      highWater: reading.highWater,
      lockedOut,
      mode: this.settings.mode,
      timezone: this.settings.timezone,
      graceMs: config.windowGraceSeconds * 1000,
    });
    const detail = this.explain(decision, credential, lockout);
    let lockoutEvent: ReturnType<typeof recordFailure>['lockout'];
    const record = this.write('decision', (): DecisionRecord => {
      if (decision.outcome === 'granted') {
        if (isOffline && credential) offline?.recordGrant(digits, credential, now);
        // A code without a limit writes no count: its uses are its granted decision rows.
        else if (credential && countsUses(credential)) codes.recordUse(credential.id, now);
        lockout = recordSuccess(lockout);
      } else if (countsAsWrongEntry(decision)) {
        const local = DateTime.fromMillis(now, { zone: this.settings.timezone });
        const outcome = recordFailure(
          lockout,
          local.toISODate()!,
          local.endOf('day').toMillis() + 1 - now,
          this.policy,
        );
        lockout = outcome.state;
        lockoutEvent = outcome.lockout;
      }
      // A lockout's time left is saved as it counts down (a power cut never shortens it);
      // with none running and no count changed, nothing is rewritten.
      if (JSON.stringify(lockout) !== JSON.stringify(this.lockout)) state.set('lockout', lockout);
      // The row carries the clock floor (firmware/store/audit.ts stamp): no state write for it.
      const row = this.deps.audit.append(
        'decision',
        {
          outcome: decision.outcome,
          reason: decision.outcome === 'denied' ? decision.reason : null,
          code_id: decision.code?.id ?? null,
          code_name: decision.code?.name ?? null,
          code_ref: decision.code ? codeRef : null,
          kind: decision.code?.kind ?? null,
          role: decision.code?.role ?? null,
          source,
          clock_trusted: reading.trusted,
          detail: detail ?? null,
        },
        now,
      );
      if (decision.outcome === 'granted' && decision.duress) {
        this.deps.audit.append('duress', { code_id: decision.code.id, code_name: decision.code.name }, now);
      }
      if (lockoutEvent) {
        this.deps.audit.append(
          'lockout',
          {
            cause: lockoutEvent.cause,
            seconds: lockoutEvent.seconds,
            until: new Date(now + lockoutEvent.seconds * 1000).toISOString(),
          },
          now,
        );
      }
      return {
        seq: row.seq,
        at: now,
        decision,
        clockTrusted: reading.trusted,
        source,
        ...(detail ? { detail } : {}),
      };
    });
    this.lockout = lockout;
    this.lockoutMono = lockoutMono;
    // Committed: now the relay may move. Listeners of `committed` run first (fault injection).
    this.events.emit({ type: 'committed', record });
    this.lastDecision = record;
    if (decision.outcome === 'granted') {
      hal.indicator.setLed('green');
      hal.indicator.beep('granted');
      this.lock.unlock();
    } else {
      hal.indicator.setLed('red');
      hal.indicator.beep(decision.reason === 'lockout' || lockoutEvent ? 'lockout' : 'denied');
    }
    this.deps.log.info('decision', {
      outcome: decision.outcome,
      reason: decision.outcome === 'denied' ? decision.reason : undefined,
      code_id: decision.code?.id,
      code_name: decision.code?.name,
      source,
    });
    this.events.emit({ type: 'decision', record });
    return record;
  }

  private explain(
    decision: Decision,
    credential: Credential | undefined,
    lockout: LockoutState,
  ): string | undefined {
    if (decision.outcome === 'denied' && decision.detail) return decision.detail;
    if (decision.outcome === 'denied' && decision.reason === 'outside_schedule' && credential?.schedule) {
      const now = DateTime.fromMillis(this.lastClock.epochMs, { zone: this.settings.timezone });
      return `${describeSchedule(credential.schedule, this.settings.timezone)}; now ${now.toFormat('ccc HH:mm')}`;
    }
    if (
      decision.outcome === 'denied' &&
      (decision.reason === 'expired' || decision.reason === 'not_yet_active') &&
      credential
    ) {
      const fmt = (ms: number | null) =>
        ms === null
          ? '-'
          : DateTime.fromMillis(ms, { zone: this.settings.timezone }).toFormat('yyyy-LL-dd HH:mm');
      return `valid ${fmt(credential.startsAt)} to ${fmt(credential.endsAt)} ${this.settings.timezone}`;
    }
    if (decision.outcome === 'denied' && decision.reason === 'lockout') {
      return `keypad locked out for ${Math.ceil(lockout.remainingMs / 1000)} s more`;
    }
    return undefined;
  }

  /**
   * Request to exit (the button on the secure side): leaving is never refused, whatever
   * the mode or keypad lockout. Audited as its own source (`exit_request`) before the
   * relay moves; a row the storage refuses is logged, and the door still opens.
   */
  requestToExit(): void {
    this.note('exit_request', {}, this.wallNow());
    this.lock.unlock();
  }

  /** The board's optional switches (hal/switch-input.ts): exit button, tamper, power fail. */
  private watchInputs(inputs: HalInputs): Array<() => void> {
    const unsubscribe: Array<() => void> = [];
    const { exitButton, tamper, powerFail } = inputs;
    if (exitButton) unsubscribe.push(exitButton.onChange((pressed) => pressed && this.requestToExit()));
    if (tamper)
      unsubscribe.push(
        tamper.onChange((opened) => {
          this.note('tamper', { state: opened ? 'open' : 'closed' }, this.wallNow());
          if (opened) this.deps.hal.indicator.beep('alarm');
        }),
      );
    if (powerFail)
      unsubscribe.push(
        powerFail.onChange((failing) =>
          this.note('power', { state: failing ? 'failing' : 'ok' }, this.wallNow()),
        ),
      );
    return unsubscribe;
  }

  /**
   * A Wiegand reader's number goes the keypad's way: the same decision, feedback and
   * audit (source `wiegand`). A refused frame (length, parity) is audited, coalesced.
   */
  private watchWiegand(hal: ManagerDeps['hal']): Array<() => void> {
    const wiegand = hal.wiegand;
    if (!wiegand) return [];
    return [
      wiegand.onReading((reading) => {
        hal.indicator.beep('click');
        this.submitEntry(reading.digits, 'wiegand').catch((error: unknown) => {
          this.deps.log.error('decision failed', { error: (error as Error).message });
          hal.indicator.setLed('red');
          hal.indicator.beep('denied');
        });
      }),
      wiegand.onRefused((refusal) =>
        this.wiegandRefusals.note({ bits: refusal.bits, reason: refusal.reason }),
      ),
    ];
  }

  /** Door held open longer than `doorHeldOpenSeconds` (0: never): audited once, and the alarm sounds. */
  private watchDoorHeldOpen(door: 'open' | 'closed'): void {
    const { scheduler, config } = this.deps;
    scheduler.cancel(this.doorHeldOpen);
    this.doorHeldOpen = undefined;
    if (door !== 'open' || config.doorHeldOpenSeconds === 0) return;
    this.doorHeldOpen = scheduler.after(config.doorHeldOpenSeconds * 1000, () => {
      this.doorHeldOpen = undefined;
      this.note('door_held_open', { seconds: config.doorHeldOpenSeconds }, this.wallNow());
      this.deps.hal.indicator.beep('alarm');
    });
  }

  private onLockEvent(event: Parameters<Parameters<LockMachine['onEvent']>[0]>[0]): void {
    const at = this.wallNow();
    switch (event.type) {
      case 'state':
        if (event.state === 'locked' || event.state === 'unlocked') {
          this.note('lock_state', { state: event.state }, at);
          if (event.state === 'locked') this.deps.hal.indicator.setLed('off');
        }
        this.events.emit({ type: 'lock', state: event.state });
        return;
      case 'jammed':
        this.note('jammed', { target: event.target, attempts: event.attempts }, at);
        this.deps.hal.indicator.setLed('amber');
        this.deps.hal.indicator.beep('alarm');
        return;
      case 'door':
        this.note('door', { state: event.door }, at);
        this.watchDoorHeldOpen(event.door);
        return;
      case 'door_forced':
        this.note('door_forced', {}, at);
        this.deps.hal.indicator.beep('alarm');
        return;
    }
  }
}

/** The persisted settings' parser (firmware/store/state-keys.ts). */
export function parseSettings(value: unknown): Settings | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (!(MODES as readonly unknown[]).includes(v.mode)) return undefined;
  if (typeof v.timezone !== 'string' || !DateTime.now().setZone(v.timezone).isValid) return undefined;
  return v as unknown as Settings;
}
