import type { TimerHandle } from '../../hal/scheduler.ts';
import type { DiagContext } from './context.ts';
import type { TechToken } from './tech-token.ts';

/** A technician session ends after this much silence on the console. */
export const SESSION_IDLE_MS = 10 * 60_000;

export type SessionEndReason = 'logout' | 'idle' | 'token_expired' | 'port_closed' | 'replaced';

/**
 * One console session: JSON mode, and the technician login with its idle timeout.
 * Time is the firmware's scheduler (idle) and the lock's wall clock (token expiry), so
 * tests move both with virtual time. A login never outlives its token.
 */
export class DiagSession {
  json = false;
  private token: TechToken | undefined;
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

  begin(token: TechToken): void {
    if (this.token) this.end('replaced');
    this.token = token;
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
    else if (this.ctx.firmware.manager.wallNow() >= this.token.expiresAt) this.end('token_expired');
  }

  /** One timer at a time, due when the session would go idle or its token expire. */
  private arm(): void {
    this.ctx.scheduler.cancel(this.timer);
    if (!this.token) return;
    const idleLeft = SESSION_IDLE_MS - (this.ctx.scheduler.now() - this.lastActivity);
    const tokenLeft = this.token.expiresAt - this.ctx.firmware.manager.wallNow();
    this.timer = this.ctx.scheduler.after(Math.max(0, Math.min(idleLeft, tokenLeft)), () => {
      this.timer = undefined;
      this.expireIfDue();
      if (this.token) this.arm();
    });
  }
}
