import { DateTime } from 'luxon';
import type { Hal } from '../hal/index.ts';
import type { Key } from '../hal/keypad.ts';
import { Listeners } from '../hal/listeners.ts';
import type { Scheduler } from '../hal/scheduler.ts';
import { PIN_MAX_LENGTH, PIN_MIN_LENGTH } from './access/code-spec.ts';
import { countsAsWrongEntry, decide } from './access/decide.ts';
import {
  INITIAL_LOCKOUT,
  isLockedOut,
  type LockoutPolicy,
  type LockoutState,
  recordFailure,
  recordSuccess,
} from './access/lockout.ts';
import { describeSchedule } from './access/schedule.ts';
import type { Credential, Decision, Mode } from './access/types.ts';
import type { ClockReading, TrustedClock } from './clock.ts';
import type { FirmwareConfig } from './config.ts';
import { maxEntryLength } from './config.ts';
import { EntryCollector, type EntryEvent } from './entry.ts';
import { LockMachine, type LockState } from './lock.ts';
import type { Logger } from './log.ts';
import type { AuditLog, AuditRow } from './store/audit.ts';
import type { CodeStore } from './store/codes.ts';
import type { Db } from './store/db.ts';
import type { StateStore } from './store/state.ts';

export type DecisionSource = 'keypad' | 'remote' | 'technician';

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
  lockout: { active: boolean; until: number | null; consecutiveFailures: number; dailyFailures: number };
  entryLength: number;
  lastDecision: DecisionRecord | null;
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
  private settings: Settings;
  private lastDecision: DecisionRecord | null = null;
  private lastClock: ClockReading = { epochMs: 0, trusted: true, untrustedReason: null, floor: 0 };
  private lastClockMono = 0;
  private inFlight = 0;
  private readonly policy: LockoutPolicy;

  constructor(private readonly deps: ManagerDeps) {
    const { hal, scheduler, config, state } = deps;
    this.policy = {
      wrongCodeLimit: config.wrongCodeLimit,
      lockoutSeconds: config.lockoutSeconds,
      lockoutMaxSeconds: config.lockoutMaxSeconds,
      dailyFailureLimit: config.dailyFailureLimit,
    };
    this.lockout = state.get('lockout', INITIAL_LOCKOUT);
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
      this.lock.onEvent((event) => this.onLockEvent(event)),
      deps.audit.onAppend((row) => this.events.emit({ type: 'audit', row })),
      deps.clock.onTrustChange((reading, previous) => {
        this.noteClock(reading);
        this.record(
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
    this.record(
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
    return {
      lock: this.lock.state,
      mode: this.settings.mode,
      door: this.deps.hal.door.state(),
      timezone: this.settings.timezone,
      clockTrusted: this.lastClock.trusted,
      clockUntrustedReason: this.lastClock.untrustedReason,
      lockout: {
        active: isLockedOut(this.lockout, now),
        until: this.lockout.lockedUntil,
        consecutiveFailures: this.lockout.consecutiveFailures,
        dailyFailures: this.lockout.dailyFailures,
      },
      entryLength: this.entry.length,
      lastDecision: this.lastDecision,
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
    this.settings = { ...this.settings, mode };
    this.deps.db
      .transaction(() => {
        this.deps.state.set('settings', this.settings);
        this.record('mode_changed', { from: previous, to: mode, by: actor }, reading.epochMs);
      })
      .immediate();
    this.lock.setHoldOpen(mode === 'passage');
    if (previous === 'passage' && mode !== 'passage') this.lock.lock();
    this.events.emit({ type: 'mode', mode });
  }

  async setTimezone(timezone: string, actor: string): Promise<void> {
    const reading = await this.readClock();
    const previous = this.settings.timezone;
    this.settings = { ...this.settings, timezone };
    this.deps.db
      .transaction(() => {
        this.deps.state.set('settings', this.settings);
        this.record('timezone_changed', { from: previous, to: timezone, by: actor }, reading.epochMs);
      })
      .immediate();
  }

  /** Clears the keypad lockout and its counters (factory reset, technician). */
  resetLockout(): void {
    this.lockout = { ...INITIAL_LOCKOUT };
    this.deps.state.set('lockout', this.lockout);
  }

  /** Unlock or lock on a command (gateway, technician): audited before the relay moves. */
  async actuate(target: 'unlocked' | 'locked', actor: string): Promise<void> {
    const reading = await this.readClock();
    this.record(target === 'unlocked' ? 'remote_unlock' : 'remote_lock', { by: actor }, reading.epochMs);
    if (target === 'unlocked') this.lock.unlock();
    else this.lock.lock();
  }

  /** Writes an audit row (and the clock floor) in one transaction. */
  record(type: string, data: Record<string, unknown>, at: number): AuditRow {
    return this.deps.db
      .transaction(() => {
        this.deps.clock.persistFloor();
        return this.deps.audit.append(type, data, at);
      })
      .immediate();
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
    const { config, codes, db, state, offline, hal } = this.deps;
    const now = reading.epochMs;
    const lockedOut = isLockedOut(this.lockout, now);
    const isOffline = digits.length === config.offlineCodeLength;
    let credential: Credential | undefined;
    if (!lockedOut && /^\d+$/.test(digits)) {
      if (isOffline) credential = offline?.resolve(digits, reading, this.settings.timezone);
      else if (digits.length >= PIN_MIN_LENGTH && digits.length <= PIN_MAX_LENGTH)
        credential = codes.findByPin(digits);
    }
    const decision = decide({
      entry: digits,
      acceptedLengths: { min: PIN_MIN_LENGTH, max: PIN_MAX_LENGTH, offline: config.offlineCodeLength },
      credential,
      now,
      clockTrusted: reading.trusted,
      lockedOut,
      mode: this.settings.mode,
      timezone: this.settings.timezone,
      graceMs: config.windowGraceSeconds * 1000,
    });
    const detail = this.explain(decision, credential);
    let lockoutEvent: ReturnType<typeof recordFailure>['lockout'];
    const lockoutBefore = this.lockout;
    const record = db
      .transaction((): DecisionRecord => {
        if (decision.outcome === 'granted') {
          if (isOffline && credential) offline?.recordGrant(digits, credential, now);
          else if (credential) codes.recordUse(credential.id, now);
          this.lockout = recordSuccess(this.lockout);
        } else if (countsAsWrongEntry(decision)) {
          const local = DateTime.fromMillis(now, { zone: this.settings.timezone });
          const outcome = recordFailure(
            this.lockout,
            now,
            local.toISODate()!,
            local.endOf('day').toMillis() + 1,
            this.policy,
          );
          this.lockout = outcome.state;
          lockoutEvent = outcome.lockout;
        }
        // An unchanged lockout is not rewritten: one page fewer in the decision's commit.
        if (JSON.stringify(this.lockout) !== JSON.stringify(lockoutBefore))
          state.set('lockout', this.lockout);
        this.deps.clock.persistFloor();
        const row = this.deps.audit.append(
          'decision',
          {
            outcome: decision.outcome,
            reason: decision.outcome === 'denied' ? decision.reason : null,
            code_id: decision.code?.id ?? null,
            code_name: decision.code?.name ?? null,
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
              until: new Date(lockoutEvent.until).toISOString(),
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
      })
      .immediate();
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

  private explain(decision: Decision, credential: Credential | undefined): string | undefined {
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
    if (decision.outcome === 'denied' && decision.reason === 'lockout' && this.lockout.lockedUntil) {
      return `keypad locked out until ${new Date(this.lockout.lockedUntil).toISOString()}`;
    }
    return undefined;
  }

  private onLockEvent(event: Parameters<Parameters<LockMachine['onEvent']>[0]>[0]): void {
    const at = this.wallNow();
    switch (event.type) {
      case 'state':
        if (event.state === 'locked' || event.state === 'unlocked') {
          this.record('lock_state', { state: event.state }, at);
          if (event.state === 'locked') this.deps.hal.indicator.setLed('off');
        }
        this.events.emit({ type: 'lock', state: event.state });
        return;
      case 'jammed':
        this.record('jammed', { target: event.target, attempts: event.attempts }, at);
        this.deps.hal.indicator.setLed('amber');
        this.deps.hal.indicator.beep('alarm');
        return;
      case 'door':
        this.record('door', { state: event.door }, at);
        return;
      case 'door_forced':
        this.record('door_forced', {}, at);
        this.deps.hal.indicator.beep('alarm');
        return;
    }
  }
}
