import { writeFileSync } from 'node:fs';
import { parseFlags, parseIntFlag, runCli, UsageError } from '../firmware/cli.ts';
import { chaosRun, FAULTS, type Fault, type RunReport } from './chaos/campaign.ts';
import { LocalBroker } from './support/broker.ts';
import { seededRandom } from './support/random.ts';

const HELP = `Usage: npm run chaos -- [--seed N] [--runs N] [--steps N] [--json FILE]

A fault campaign against real processes: each run starts a lockfw (sim HAL) with its
own data dir, a gateway, and one Mosquitto shared by the runs, then injects --steps
faults drawn from the seed: SIGKILL of lockfw during one_time use, during a
desired/codes apply and while events are being published; broker kill/restart; RTC
battery loss. After each run it checks on the files: no one_time code granted twice,
no event lost (every audit row reached the gateway), every event delivered once after
dedup, PRAGMA integrity_check ok, the audit chain verifies, desired/codes never half
applied. Prints the counts; exits 1 if any invariant was violated.

  --seed N    reproduce a campaign (default: from the clock, printed)
  --runs N    runs (default 3)
  --steps N   faults per run (default 8)
  --faults L  only these faults (comma list), e.g. --faults broker,outbox
  --json FILE write the counts and every violation as JSON`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('chaos', argv, {
    seed: { type: 'string' },
    runs: { type: 'string' },
    steps: { type: 'string' },
    json: { type: 'string' },
    faults: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length)
    throw new UsageError(`chaos: unexpected argument ${JSON.stringify(positionals[0])}`);
  const seed = parseIntFlag('chaos', values.seed, '--seed', 0, 2 ** 32 - 1) ?? Date.now() % 2 ** 32;
  const runs = parseIntFlag('chaos', values.runs, '--runs', 1, 100_000) ?? 3;
  const steps = parseIntFlag('chaos', values.steps, '--steps', 1, 10_000) ?? 8;
  const chosen = values.faults ? values.faults.split(',').map((f) => f.trim()) : [...FAULTS];
  const unknown = chosen.filter((f) => !(FAULTS as readonly string[]).includes(f));
  if (unknown.length || chosen.length === 0) {
    throw new UsageError(
      `chaos: --faults takes a comma list of ${FAULTS.join(', ')}; got ${JSON.stringify(values.faults)}`,
    );
  }
  const random = seededRandom(seed);
  process.stdout.write(`chaos: seed ${seed}, ${runs} runs x ${steps} faults (${chosen.join(', ')})\n`);
  const broker = await LocalBroker.start();
  const reports: RunReport[] = [];
  const started = Date.now();
  try {
    for (let run = 1; run <= runs; run++) {
      const report = await chaosRun(run, steps, random, broker, chosen as Fault[]);
      reports.push(report);
      const status = report.violations.length ? `VIOLATIONS ${report.violations.length}` : 'ok';
      process.stdout.write(`run ${run}/${runs}: ${report.kills} kills, ${report.events} events, ${status}\n`);
      for (const violation of report.violations) process.stdout.write(`  ${violation}\n`);
    }
  } finally {
    await broker.close();
  }
  const kills = reports.reduce((n, r) => n + r.kills, 0);
  const faults = reports.reduce((n, r) => n + Object.values(r.faults).reduce((a, b) => a + b, 0), 0);
  const byFault = Object.fromEntries(FAULTS.map((f) => [f, reports.reduce((n, r) => n + r.faults[f], 0)]));
  const violations = reports.flatMap((r) => r.violations);
  const survived = reports
    .filter((r) => r.violations.length === 0)
    .reduce((n, r) => n + Object.values(r.faults).reduce((a, b) => a + b, 0), 0);
  const summary = {
    seed,
    runs,
    steps,
    kills,
    faults,
    faultsSurvived: survived,
    byFault,
    events: reports.reduce((n, r) => n + r.events, 0),
    violations,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  process.stdout.write(
    `\nruns ${runs}, kills ${kills}, faults ${faults} (${Object.entries(byFault)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}), survived ${survived}, events ${summary.events}, violations ${violations.length}, ${summary.seconds} s\n`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
  return violations.length ? 1 : 0;
}

await runCli('chaos', () => main(process.argv.slice(2)));
