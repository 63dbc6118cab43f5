import type { TimerHandle } from '../../hal/scheduler.ts';
import type { DiagContext } from './context.ts';
import type { TechToken } from './tech-token.ts';

/** A technician session ends after this much silence on the console. */
export const SESSION_IDLE_MS = 10 * 60_000;

export type SessionEndReason = 'logout' | 'idle' | 'token_expired' | 'port_closed' | 'replaced';

/**
 * When each token logged in first since boot, on the firmware's scheduler (monotonic):
 * token id -> the scheduler time its validity runs out. Keyed by the firmware, so every
 * console of one lock shares it and a restart of the firmware starts afresh.
 */
const tokenDeadlines = new WeakMap<object, Map<string, number>>();

/**
 * The monotonic deadline of `token`: at its first login (this boot), the validity left
 * by the wall clock (`leftMs`) from the scheduler's now; later logins keep that
 * deadline, so setting the clock back never stretches a token. Expired entries are
 * forgotten (their tokens are refused by the wall clock or by this map while listed).
 */
export function tokenDeadline(ctx: DiagContext, token: TechToken, leftMs: number): number {
  const now = ctx.scheduler.now();
  let deadlines = tokenDeadlines.get(ctx.firmware);
  if (!deadlines) {
    deadlines = new Map();
    tokenDeadlines.set(ctx.firmware, deadlines);
  }
  const known = deadlines.get(token.tokenId);
  if (known !== undefined) return known;
  // Tokens live 24 h at most: an entry older than that cannot matter any more.
  for (const [id, deadline] of deadlines) if (deadline <= now) deadlines.delete(id);
  const deadline = now + leftMs;
  deadlines.set(token.tokenId, deadline);
  return deadline;
}

/**
 * One console session: JSON mode, and the technician login with its idle timeout.
 * Time is the firmware's scheduler (idle, and the token's validity counted from its
 * first login) and the lock's wall clock (token expiry), so tests move both with
 * virtual time. A login never outlives its token by either clock.
 */
export class DiagSession {
  json = false;
  private token: TechToken | undefined;
  /** Scheduler time at which the token's validity runs out (see tokenDeadline). */
  private deadline = 0;
  private lastActivity: number;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly ctx: DiagContext,
    private readonly onEnd: (reason: SessionEndReason) => void = () => {},
  ) {
    this.lastActivity = ctx.scheduler.now();
  }

  /** The token of the technician logged in, if any (expiry and idle checked now). */
  get technician(): TechToken | undefined {
    this.expireIfDue();
    return this.token;
  }

  get privileged(): boolean {
    return this.technician !== undefined;
  }

  /** Input arrived: the session is not idle. */
  touch(): void {
    this.lastActivity = this.ctx.scheduler.now();
  }

  /** Logs `token` in until the wall clock reaches its expiry or the scheduler `deadline`. */
  begin(token: TechToken, deadline: number): void {
    if (this.token) this.end('replaced');
    this.token = token;
    this.deadline = deadline;
    this.touch();
    this.arm();
  }

  /** Ends the login (audited); a no-op when nobody is logged in. */
  end(reason: SessionEndReason): void {
    const token = this.token;
    if (!token) return;
    this.token = undefined;
    this.ctx.scheduler.cancel(this.timer);
    this.timer = undefined;
    const { manager } = this.ctx.firmware;
    try {
      manager.record('technician_logout', { token_id: token.tokenId, reason }, manager.wallNow());
    } catch {
      // The database is closed (shutdown): the session ends all the same.
    }
    this.onEnd(reason);
  }

  /** Stops the timer without auditing (the firmware is going away). */
  dispose(): void {
    this.ctx.scheduler.cancel(this.timer);
    this.timer = undefined;
    this.token = undefined;
  }

  private expireIfDue(): void {
    if (!this.token) return;
    if (this.ctx.scheduler.now() - this.lastActivity >= SESSION_IDLE_MS) this.end('idle');
    else if (
      this.ctx.firmware.manager.wallNow() >= this.token.expiresAt ||
      this.ctx.scheduler.now() >= this.deadline
    )
      this.end('token_expired');
  }

  /** One timer at a time, due when the session would go idle or its token expire. */
  private arm(): void {
    this.ctx.scheduler.cancel(this.timer);
    if (!this.token) return;
    const idleLeft = SESSION_IDLE_MS - (this.ctx.scheduler.now() - this.lastActivity);
    const tokenLeft = Math.min(
      this.token.expiresAt - this.ctx.firmware.manager.wallNow(),
      this.deadline - this.ctx.scheduler.now(),
    );
    this.timer = this.ctx.scheduler.after(Math.max(0, Math.min(idleLeft, tokenLeft)), () => {
      this.timer = undefined;
      this.expireIfDue();
      if (this.token) this.arm();
    });
  }
}
