import { writeFileSync } from 'node:fs';
import { parseFlags, UsageError } from '../../firmware/cli.ts';
import { toJUnit } from './junit.ts';
import { collectScenarioFiles, loadScenario, runScenario, type ScenarioResult } from './runner.ts';
import { ScenarioError } from './schema.ts';

export const RUN_HELP = `Usage: keypad-sim run PATH... [--junit FILE] [--filter TEXT] [--verbose]

Runs scenario files (JSON; a PATH may be a folder) each against a fresh firmware on
the simulated board with virtual time, and prints one line per scenario and a summary.

  --junit FILE    also write JUnit XML to FILE
  --filter TEXT   run only scenarios whose name or file contains TEXT
  --verbose       print every step of failing scenarios

Exit status: 0 all passed, 1 a scenario failed or a file is invalid, 2 bad usage.
The format is in docs/scenarios.md; examples in keypad-sim/examples/.`;

export async function scenarioCommand(
  argv: string[],
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const { values, positionals } = parseFlags('keypad-sim run', argv, {
    junit: { type: 'string' },
    filter: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    out(RUN_HELP);
    return 0;
  }
  if (positionals.length === 0)
    throw new UsageError(
      'keypad-sim run: give at least one scenario file or folder (see keypad-sim run --help)',
    );
  let files: string[];
  try {
    files = collectScenarioFiles(positionals);
  } catch (error) {
    throw new UsageError(`keypad-sim run: ${(error as Error).message}`);
  }
  const results: ScenarioResult[] = [];
  for (const file of files) {
    let result: ScenarioResult;
    try {
      const scenario = loadScenario(file);
      if (values.filter && !scenario.name.includes(values.filter) && !file.includes(values.filter)) continue;
      result = await runScenario(scenario);
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      result = { file, name: file, ok: false, steps: 0, durationMs: 0, invalid: error.message, log: [] };
    }
    results.push(result);
    if (result.invalid) out(`INVALID ${result.invalid}`);
    else if (result.ok) out(`ok      ${result.name} (${file}, ${result.steps} steps)`);
    else {
      out(
        `FAIL    ${result.name} (${file})\n        step ${result.failure!.step}: ${result.failure!.message}`,
      );
      if (values.verbose) for (const line of result.log) out(`        | ${line}`);
    }
  }
  const passed = results.filter((r) => r.ok).length;
  const invalid = results.filter((r) => r.invalid).length;
  const failed = results.length - passed - invalid;
  out(`\n${passed} passed, ${failed + invalid} failed${invalid ? ` (${invalid} invalid files)` : ''}`);
  if (values.junit) writeFileSync(values.junit, toJUnit(results));
  return failed + invalid > 0 || results.length === 0 ? 1 : 0;
}
