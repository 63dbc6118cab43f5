import { MODES, type Mode } from '../../access/types.ts';
import type { LockState } from '../../lock.ts';
import { DiagError, fail, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import type { CommandCall, CommandSpec } from '../registry.ts';
import { auditTechnicianAction } from '../technician-action.ts';
import { withTimeout } from '../wait.ts';

export const modeSet: CommandSpec = {
  name: 'mode set',
  usage: 'mode set MODE',
  summary: `change the operating mode (${MODES.join(', ')}); audited`,
  details: ['vacation and privacy: master codes only; passage: held unlocked until another mode.'],
  privileged: true,
  completeArg: (index) => (index === 0 ? MODES : []),
  async run(call) {
    expectArgs(call.args, 1, 1, 'mode set MODE');
    const mode = call.args[0]!.toLowerCase() as Mode;
    if (!MODES.includes(mode)) throw new DiagError('bad_argument', `MODE must be one of ${MODES.join(', ')}`);
    const { manager } = call.ctx.firmware;
    const previous = manager.getSettings().mode;
    await manager.setMode(mode, 'technician');
    auditTechnicianAction(call, 'mode_set', { from: previous, to: mode });
    return ok(previous === mode ? `mode: ${mode} (unchanged)` : `mode: ${mode} (was ${previous})`, {
      mode,
      previous,
    });
  },
};

/** Drives the bolt through the lock manager and waits for the end-stop, or the jam. */
async function actuate(call: CommandCall, target: 'unlocked' | 'locked') {
  const { firmware, scheduler } = call.ctx;
  const { manager, config } = firmware;
  const started = scheduler.now();
  let settled: (state: LockState) => void = () => {};
  const reached = new Promise<LockState>((resolve) => {
    settled = resolve;
  });
  const off = manager.onEvent((event) => {
    if (event.type === 'lock' && (event.state === target || event.state === 'jammed')) settled(event.state);
  });
  try {
    const before = manager.lock.state;
    const verdict = await manager.actuate(target, 'technician');
    if (!verdict.allowed) throw new DiagError(verdict.reason, verdict.message);
    auditTechnicianAction(call, target === 'unlocked' ? 'relay_unlock' : 'relay_lock');
    if (before === target && manager.lock.state === target) {
      return ok(`already ${target} (the end-stop says ${call.ctx.hal.actuator.position()})`, {
        state: target,
        elapsed_ms: 0,
      });
    }
    if (manager.lock.state === target) settled(target);
    const budget = (config.actuationRetries + 1) * config.actuationTimeoutMs + 1000;
    const state = await withTimeout(scheduler, reached, budget, call.signal);
    const elapsed = scheduler.now() - started;
    if (state === target) {
      const relock =
        target === 'unlocked' && config.autoRelockSeconds > 0 && manager.getSettings().mode !== 'passage';
      return ok(
        `${target} after ${elapsed} ms${relock ? `; relocks after ${config.autoRelockSeconds} s` : ''}`,
        {
          state: target,
          elapsed_ms: elapsed,
        },
      );
    }
    const attempts = config.actuationRetries + 1;
    return fail(
      'jammed',
      state === 'jammed'
        ? `jammed: the bolt did not reach ${target} in ${attempts} attempt${attempts === 1 ? '' : 's'} of ${config.actuationTimeoutMs} ms; check bolt and strike for obstruction, then try again`
        : `no end-stop report within ${budget} ms (lock is ${manager.lock.state})`,
      { state: manager.lock.state, elapsed_ms: elapsed },
    );
  } finally {
    off();
  }
}

export const relayUnlock: CommandSpec = {
  name: 'relay unlock',
  usage: 'relay unlock',
  summary: 'unlock now (auto-relock as usual) and report the end-stop; audited',
  privileged: true,
  run(call) {
    expectArgs(call.args, 0, 0, 'relay unlock');
    return actuate(call, 'unlocked');
  },
};

export const relayLock: CommandSpec = {
  name: 'relay lock',
  usage: 'relay lock',
  summary: 'lock now and report the end-stop (after freeing a jammed bolt); audited',
  privileged: true,
  run(call) {
    expectArgs(call.args, 0, 0, 'relay lock');
    return actuate(call, 'locked');
  },
};
