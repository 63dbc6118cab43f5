import type { BoltPosition } from '../../../hal/relay.ts';
import { type Answer, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import type { DiagContext } from '../context.ts';
import { quickCheck } from '../integrity.ts';
import type { Observations } from '../observations.ts';
import type { CommandSpec } from '../registry.ts';
import { formatDuration, isoUtc } from '../time-format.ts';
import { withTimeout } from '../wait.ts';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

const RTC_TIMEOUT_MS = 2000;
const BROKER_TIMEOUT_MS = 5000;

/**
 * Drives the motor toward the end-stop the bolt already rests on: motor driver and
 * end-stop both have to answer, and the door is never opened (anyone with the cable
 * may run selftest).
 */
async function relayCheck(ctx: DiagContext, signal: AbortSignal): Promise<CheckResult> {
  const { manager, config } = ctx.firmware;
  const { actuator } = ctx.hal;
  const state = manager.lock.state;
  const result = (status: CheckStatus, detail: string): CheckResult => ({ name: 'relay', status, detail });
  if (state === 'jammed') {
    return result(
      'fail',
      'the lock is jammed: its last drive did not reach the end-stop (free the bolt, then relay lock)',
    );
  }
  if (state === 'unlocking' || state === 'locking')
    return result('skip', 'the bolt is moving; run selftest again');
  const position = actuator.position();
  if (position !== state) return result('fail', `the end-stops read ${position} but the lock is ${state}`);
  let off = () => {};
  const arrived = new Promise<BoltPosition>((resolve) => {
    off = actuator.onPosition((reached) => {
      if (reached === state) resolve(reached);
    });
  });
  const started = ctx.scheduler.now();
  try {
    actuator.drive(state);
    const reached = await withTimeout(ctx.scheduler, arrived, config.actuationTimeoutMs, signal);
    if (!reached) {
      // Only stop our own drive: a keypad grant may have started a real one meanwhile.
      if (manager.lock.state === state) actuator.stop();
      return result(
        'fail',
        `no end-stop report for ${state} within ${config.actuationTimeoutMs} ms: motor jammed, or a motor or end-stop fault`,
      );
    }
    return result(
      'pass',
      `bolt ${state}; motor re-driven to ${state}, end-stop answered in ${ctx.scheduler.now() - started} ms`,
    );
  } finally {
    off();
  }
}

function keypadCheck(ctx: DiagContext, observed: Observations): CheckResult {
  const last =
    observed.lastKeyAt === null
      ? 'none yet'
      : `last ${formatDuration(ctx.scheduler.now() - observed.lastKeyAt)} ago`;
  return {
    name: 'keypad',
    status: 'pass',
    detail: `${ctx.hal.kind} keypad attached and listening; ${observed.keysSeen} keys since the console started (${last}); keypad test checks each key`,
  };
}

async function rtcCheck(ctx: DiagContext, signal: AbortSignal): Promise<CheckResult> {
  const reading = await withTimeout(ctx.scheduler, ctx.hal.rtc.read(), RTC_TIMEOUT_MS, signal);
  const result = (status: CheckStatus, detail: string): CheckResult => ({ name: 'rtc', status, detail });
  if (!reading) return result('fail', `no answer from the RTC within ${RTC_TIMEOUT_MS} ms`);
  if (!reading.valid)
    return result(
      'fail',
      `reads ${isoUtc(reading.epochMs)} with its lost-power flag set: replace the battery, then time set`,
    );
  const { floor } = ctx.firmware.clock.snapshot();
  const tolerance = ctx.firmware.config.clockFloorToleranceSeconds * 1000;
  if (floor > 0 && reading.epochMs < floor - tolerance) {
    return result('fail', `reads ${isoUtc(reading.epochMs)}, before the last trusted time ${isoUtc(floor)}`);
  }
  return result('pass', `reads ${isoUtc(reading.epochMs)}, valid`);
}

async function databaseCheck(ctx: DiagContext, signal: AbortSignal): Promise<CheckResult> {
  const result = (status: CheckStatus, detail: string): CheckResult => ({ name: 'database', status, detail });
  const quick = quickCheck(ctx.firmware.db);
  if (quick !== 'ok') return result('fail', `SQLite quick_check: ${quick.slice(0, 120)}`);
  const chain = await ctx.firmware.audit.verifyInSlices(500, signal);
  if (!chain.ok) return result('fail', `audit chain broken at row ${chain.firstBrokenSeq}: ${chain.problem}`);
  const { storage } = ctx.firmware.manager.status();
  if (!storage.writable)
    return result(
      'fail',
      `storage ${storage.full ? 'full' : 'failing'}: the last write failed (${storage.lastError}); every decision is refused until a write succeeds`,
    );
  const pruned = chain.checkpointSeq > 0 ? `, older rows pruned up to ${chain.checkpointSeq}` : '';
  return result(
    'pass',
    `quick_check ok; audit chain intact to its head (${chain.rows} rows to ${chain.headSeq}${pruned}); storage writable`,
  );
}

async function brokerCheck(ctx: DiagContext, signal: AbortSignal): Promise<CheckResult> {
  const result = (status: CheckStatus, detail: string): CheckResult => ({ name: 'broker', status, detail });
  if (!ctx.link) return result('skip', 'mqtt not configured');
  const link = ctx.link;
  if (!link.probe) {
    if (link.status().connected) return result('pass', 'connected (the link has no active probe)');
    const { lastError } = link.status();
    return result('fail', `not connected${lastError ? ` (last error: ${lastError})` : ''}`);
  }
  const reachable = await withTimeout(
    ctx.scheduler,
    link.probe().catch(() => false),
    BROKER_TIMEOUT_MS,
    signal,
  );
  if (reachable) return result('pass', 'the broker answers');
  const { lastError } = link.status();
  return result(
    'fail',
    `the broker does not answer${reachable === undefined ? ` within ${BROKER_TIMEOUT_MS} ms` : ''}${lastError ? ` (last error: ${lastError})` : ''}`,
  );
}

export const selftest: CommandSpec = {
  name: 'selftest',
  usage: 'selftest',
  summary: 'relay, keypad, RTC, database, broker: pass/fail each',
  details: [
    'relay: re-drives the motor toward the end-stop the bolt rests on (never opens the door).',
    'database: SQLite quick_check, the audit chain (keyed, up to its head), and whether writes commit.',
    'broker: skip without MQTT.',
    'Any failure makes the answer an error (lockdiag exits 1).',
  ],
  async run({ args, ctx, signal, observed }): Promise<Answer> {
    expectArgs(args, 0, 0, 'selftest');
    const checks: CheckResult[] = [];
    const guarded = async (name: string, check: () => Promise<CheckResult> | CheckResult) => {
      try {
        checks.push(await check());
      } catch (error) {
        if (signal.aborted) throw error;
        checks.push({ name, status: 'fail', detail: `check failed: ${(error as Error).message}` });
      }
    };
    await guarded('relay', () => relayCheck(ctx, signal));
    await guarded('keypad', () => keypadCheck(ctx, observed));
    await guarded('rtc', () => rtcCheck(ctx, signal));
    await guarded('database', () => databaseCheck(ctx, signal));
    await guarded('broker', () => brokerCheck(ctx, signal));
    const failed = checks.filter((check) => check.status === 'fail');
    const passed = checks.filter((check) => check.status === 'pass').length;
    const skipped = checks.length - passed - failed.length;
    const lines = checks.map(
      (check) => `${`${check.name}:`.padEnd(10)} ${check.status.padEnd(5)} ${check.detail}`,
    );
    const summary = `${passed} passed, ${failed.length} failed, ${skipped} skipped`;
    if (failed.length === 0) return ok([...lines, `selftest: ${summary}`], { checks, passed: true });
    return {
      ok: false,
      lines,
      data: { checks },
      error: {
        code: 'selftest_failed',
        message: `selftest: ${summary} (${failed.map((check) => check.name).join(', ')})`,
      },
    };
  },
};
