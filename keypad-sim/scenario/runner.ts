import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditRow } from '../../firmware/store/audit.ts';
import { parseIsoInstant } from '../../firmware/validation.ts';
import { SimLock } from '../sim-lock.ts';
import { parseDurationMs } from './duration.ts';
import { issueScenarioOfflineCode } from './offline-step.ts';
import { parseScenario, type Scenario, ScenarioError, type Step } from './schema.ts';

export interface ScenarioFailure {
  step: number;
  message: string;
}

export interface ScenarioResult {
  file: string;
  name: string;
  ok: boolean;
  steps: number;
  durationMs: number;
  failure?: ScenarioFailure;
  /** The file itself is invalid (not a behaviour failure). */
  invalid?: string;
  log: string[];
}

/** Expands folders to the .json files inside them (sorted, recursive). */
export function collectScenarioFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) throw new ScenarioError(path, 'path', 'no such file or directory');
    if (stat.isDirectory()) {
      const entries = readdirSync(path).sort();
      files.push(
        ...collectScenarioFiles(
          entries
            .filter((e) => e.endsWith('.json') || statSync(join(path, e)).isDirectory())
            .map((e) => join(path, e)),
        ),
      );
    } else files.push(path);
  }
  return files;
}

export function loadScenario(file: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ScenarioError(file, 'file', `not valid JSON: ${(error as Error).message}`);
  }
  return parseScenario(file, json);
}

class ExpectationFailed extends Error {}

const describe = (value: unknown) => (value === undefined ? 'nothing' : JSON.stringify(value));

/** Runs one scenario against a fresh firmware with its own temporary data dir. */
export async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const started = performance.now();
  const log: string[] = [];
  // By default the bolt travels instantly: a press leaves the lock unlocked, and
  // virtual time moves only when a step says so.
  const lock = await SimLock.create({
    startEpochMs: scenario.device.time,
    config: scenario.device.config,
    travelMs: scenario.device.boltTravelMs,
  });
  let stepNumber = 0;
  try {
    for (const [index, code] of scenario.codes.entries()) {
      const result = lock.firmware.admin.add(code, 'scenario', lock.firmware.manager.wallNow());
      if (!result.ok)
        throw new ExpectationFailed(
          `codes[${index}] (${code.name}) refused: ${result.error}: ${result.message}`,
        );
    }
    let checkpoint = lock.firmware.audit.lastSeq();
    const offlineCodes = new Map<string, string>();
    for (const [index, step] of scenario.steps.entries()) {
      stepNumber = index + 1;
      log.push(`step ${stepNumber}: ${step.type} ${JSON.stringify(step.value)}`);
      if (step.type === 'expect') {
        const rows = lock.firmware.audit.after(checkpoint, 100_000);
        checkExpectation(lock, step.value, rows);
        checkpoint = lock.firmware.audit.lastSeq();
      } else {
        await perform(lock, step, offlineCodes);
      }
    }
    return {
      file: scenario.file,
      name: scenario.name,
      ok: true,
      steps: scenario.steps.length,
      durationMs: performance.now() - started,
      log,
    };
  } catch (error) {
    const message = error instanceof ExpectationFailed ? error.message : `error: ${(error as Error).message}`;
    return {
      file: scenario.file,
      name: scenario.name,
      ok: false,
      steps: scenario.steps.length,
      durationMs: performance.now() - started,
      failure: { step: stepNumber, message },
      log,
    };
  } finally {
    await lock.close();
  }
}

async function perform(
  lock: SimLock,
  step: Exclude<Step, { type: 'expect' }>,
  offlineCodes: Map<string, string>,
): Promise<void> {
  const { hal, firmware } = lock;
  switch (step.type) {
    case 'press':
      if (typeof step.value === 'string') await lock.press(step.value);
      else {
        const pause = parseDurationMs(step.value.pause)!;
        for (const [i, key] of [...step.value.keys].entries()) {
          if (i > 0) await lock.advance(pause);
          await lock.press(key);
        }
      }
      return;
    case 'advance':
      await lock.advance(parseDurationMs(step.value)!);
      return;
    case 'set_time':
      hal.rtc.setTime(parseIsoInstant(step.value)!);
      await firmware.manager.refreshClock();
      return;
    case 'sync_time': {
      const { verdict } = await firmware.manager.setTime(
        parseIsoInstant(step.value)!,
        'technician',
        'scenario',
      );
      if (!verdict.ok) throw new Error(`sync_time refused: ${verdict.message}`);
      return;
    }
    case 'set_timezone':
      await firmware.manager.setTimezone(step.value, 'scenario');
      return;
    case 'drift':
      hal.rtc.drift(step.value);
      await firmware.manager.refreshClock();
      return;
    case 'fault':
      switch (step.value) {
        case 'relay_jam':
          hal.actuator.jam();
          return;
        case 'relay_ok':
          hal.actuator.unjam();
          return;
        case 'rtc_lost':
          hal.rtc.loseBattery();
          await firmware.manager.refreshClock();
          return;
        case 'power_cycle':
          await lock.powerCycle();
          return;
        case 'door_open':
        case 'door_close':
          hal.door.set(step.value === 'door_open' ? 'open' : 'closed');
          await lock.settle();
          return;
      }
      return;
    case 'add_code': {
      const result = firmware.admin.add(step.value, 'scenario', firmware.manager.wallNow());
      const outcome = result.ok ? 'ok' : result.error;
      if (outcome !== (step.refused ?? 'ok')) {
        throw new ExpectationFailed(
          `add_code ${step.value.name}: expected ${step.refused ? `refusal ${step.refused}` : 'success'}, got ${result.ok ? 'success' : `${result.error} (${result.message})`}`,
        );
      }
      return;
    }
    case 'remove_code': {
      const code = firmware.codes.list().find((c) => c.name === step.value);
      if (!code) throw new ExpectationFailed(`remove_code: no code named ${JSON.stringify(step.value)}`);
      firmware.admin.remove(code.id, 'scenario', firmware.manager.wallNow());
      return;
    }
    case 'set_mode':
      await firmware.manager.setMode(step.value, 'scenario');
      await lock.settle();
      return;
    case 'offline_code': {
      const code = issueScenarioOfflineCode(firmware, step.value);
      if (step.value.label) offlineCodes.set(step.value.label, code);
      if (step.value.press) await lock.press(`${code}#`);
      return;
    }
    case 'press_offline': {
      const code = offlineCodes.get(step.value);
      if (!code)
        throw new ExpectationFailed(
          `press_offline: no offline_code step labelled ${JSON.stringify(step.value)} ran before`,
        );
      await lock.press(`${code}#`);
      return;
    }
  }
}

function checkExpectation(
  lock: SimLock,
  expected: Extract<Step, { type: 'expect' }>['value'],
  rows: AuditRow[],
): void {
  const { firmware, hal } = lock;
  const status = firmware.manager.status();
  const problems: string[] = [];
  const compare = (field: string, want: unknown, got: unknown) => {
    if (want !== undefined && JSON.stringify(want) !== JSON.stringify(got)) {
      problems.push(`${field}: expected ${describe(want)}, actual ${describe(got)}`);
    }
  };
  compare('lock', expected.lock, status.lock);
  compare('mode', expected.mode, status.mode);
  compare('door', expected.door, status.door);
  if (expected.clock !== undefined)
    compare('clock', expected.clock, status.clockTrusted ? 'trusted' : 'untrusted');
  if (expected.lockout !== undefined) compare('lockout', expected.lockout, status.lockout.active);
  if (expected.decision !== undefined || expected.reason !== undefined || expected.code !== undefined) {
    const decision = rows.filter((row) => row.type === 'decision').at(-1);
    if (!decision) problems.push('decision: expected a decision since the last expect, there was none');
    else {
      compare('decision', expected.decision, decision.data.outcome);
      if (expected.reason !== undefined)
        compare('reason', expected.reason, decision.data.reason ?? undefined);
      if (expected.code !== undefined) compare('code', expected.code, decision.data.code_name ?? undefined);
    }
  }
  if (expected.indicator !== undefined) {
    if (typeof expected.indicator === 'string')
      compare('indicator', expected.indicator, hal.indicator.lastBeep);
    else {
      compare('indicator.led', expected.indicator.led, hal.indicator.led);
      compare('indicator.beep', expected.indicator.beep, hal.indicator.lastBeep);
    }
  }
  if (expected.event !== undefined) {
    const { type, ...fields } = expected.event;
    const match = rows.find(
      (row) =>
        row.type === type &&
        Object.entries(fields).every(
          ([k, v]) => Object.hasOwn(row.data, k) && JSON.stringify(row.data[k]) === JSON.stringify(v),
        ),
    );
    if (!match) {
      const seen = rows.map((row) => row.type).join(', ') || 'none';
      problems.push(
        `event: expected ${describe(expected.event)} since the last expect; events seen: ${seen}`,
      );
    }
  }
  if (expected.no_event !== undefined && rows.some((row) => row.type === expected.no_event)) {
    problems.push(`no_event: a ${expected.no_event} event happened since the last expect`);
  }
  if (expected.uses !== undefined) {
    const code = firmware.codes.list().find((c) => c.name === expected.uses!.code);
    compare(`uses of ${expected.uses.code}`, expected.uses.count, code?.uses);
  }
  if (problems.length > 0) throw new ExpectationFailed(`expect failed: ${problems.join('; ')}`);
}
