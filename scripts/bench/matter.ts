import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lockfwCommand, packageRoot, serviceNodeFlags } from './boot.ts';
import { benchDir, median, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * What `lockfw run --matter` costs in memory, and that a lock without it pays nothing:
 * VmRSS at ready of `lockfw run --hal sim` from the built JavaScript (dist/, node flags of
 * lockfw.service), warm data dirs, medians of interleaved runs, in four forms:
 * - without --matter, and with --matter (ready once the Matter node prints its pairing line):
 *   what --matter adds;
 * - without --matter under a module hook that refuses every `@matter/*` and `@project-chip/*`
 *   import, so the lock must boot without matter.js (else this bench fails), against the same
 *   under a hook that lets everything through: a lock that could load matter.js uses no more
 *   memory than one that cannot. Both carry the hook (Node 20 runs hooks on a thread of their
 *   own, about 13 MB), so the difference is matter.js alone.
 * Each process runs in a network namespace of its own holding only `lo` (unshare --net, as
 * root; as the Matter tests do), so the Matter node's mDNS and UDP never reach a network.
 */

/**
 * Without --matter the lock must not load matter.js: the same process as the floor. The slack
 * is RSS noise between boots of one program (when the garbage collector last ran; up to a few
 * MB in single runs on a loaded machine), not room for a module: matter.js is about 60 MB.
 */
const NO_MATTER_SLACK_MB = 5;
/**
 * What --matter may add: matter.js with its Matter data model, crypto and the Door Lock node
 * measure about 67 MB on Node 20 (docs/matter.md). 96 MB keeps a lock with Matter under
 * about 170 MB, a third of a 512 MB Pi-class board (a Raspberry Pi Zero 2 W has 512 MB),
 * and catches matter.js or our adapter growing by 40%.
 */
const MATTER_EXTRA_LIMIT_MB = 96;

export interface MatterBenchOptions {
  /** Measured boots of each form (default 3, after one boot that creates each data dir). */
  runs?: number;
}

// Module hooks: one refusing matter.js (resolving any of its packages throws), one letting all through.
const REFUSE_HOOKS = `export async function resolve(specifier, context, next) {
  if (/^@(matter|project-chip)\\//.test(specifier)) throw new Error('matter.js refused: ' + specifier);
  return next(specifier, context);
}
`;
const PASS_HOOKS = `export async function resolve(specifier, context, next) {
  return next(specifier, context);
}
`;
const registerHooks = (hooks: string) =>
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`;

// Only lo, up, with multicast and a multicast route: mDNS works and stays in the namespace.
const NAMESPACE_SETUP = 'ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo && exec "$@"';

function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`bench: no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** Boots `node ARGS` in a fresh network namespace; RSS once stdout matched every line of `ready`. */
function rssAtReady(nodeArgs: string[], cwd: string, ready: RegExp[]): Promise<number> {
  return new Promise((resolve, reject) => {
    // sh execs node: the child's pid is node's.
    const child = spawn(
      'unshare',
      ['--net', '--', 'sh', '-c', NAMESPACE_SETUP, 'sh', process.execPath, ...nodeArgs],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let rss: number | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench: no ready line within 60 s from node ${nodeArgs.join(' ')}\n${out}${err}`));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      if (rss !== undefined) return;
      out += chunk.toString();
      if (!ready.every((line) => line.test(out))) return;
      try {
        rss = rssMb(child.pid!);
      } catch (error) {
        reject(error);
      }
      child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`bench: cannot start unshare (util-linux, as root): ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (rss !== undefined) resolve(rss);
      else
        reject(
          new Error(
            `bench: node ${nodeArgs.join(' ')} exited (${code ?? signal}) before ready\n${out}${err}`,
          ),
        );
    });
  });
}

export async function benchMatter(options: MatterBenchOptions = {}): Promise<BenchRow[]> {
  const runs = options.runs ?? 3;
  const root = packageRoot();
  const lockfw = lockfwCommand(root);
  if (lockfw.short !== 'dist/')
    throw new Error('bench: matter measures the built JavaScript; run npm run build first');
  const flags = serviceNodeFlags(root);
  const { dir, remove } = benchDir('matter');
  try {
    const hook = (name: string, hooks: string) => {
      writeFileSync(join(dir, `${name}-hooks.mjs`), hooks);
      writeFileSync(join(dir, `${name}.mjs`), registerHooks(join(dir, `${name}-hooks.mjs`)));
      return ['--import', pathToFileURL(join(dir, `${name}.mjs`)).href];
    };
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ matter: { interface: 'lo' } }));
    const run = (data: string) => [
      ...lockfw.args,
      'run',
      '--hal',
      'sim',
      '--config',
      config,
      '--data',
      join(dir, data),
    ];
    const ready = [/"msg":"ready"/, /"msg":"control socket ready"/];
    const forms = {
      without: { args: [...flags, ...run('plain')], ready },
      matter: {
        args: [...flags, ...run('matter'), '--matter'],
        ready: [...ready, /"ns":"lockfw:matter","msg":"matter (pairing|node commissioned)"/],
      },
      passed: { args: [...flags, ...hook('pass', PASS_HOOKS), ...run('plain')], ready },
      refused: { args: [...flags, ...hook('refuse', REFUSE_HOOKS), ...run('plain')], ready },
    };
    const rss: Record<keyof typeof forms, number[]> = { without: [], matter: [], passed: [], refused: [] };
    // The first boot of each data dir creates it (--init) and warms up; then warm boots only.
    await rssAtReady([...forms.without.args, '--init'], root, ready);
    await rssAtReady([...forms.matter.args, '--init'], root, forms.matter.ready);
    for (let i = 0; i < runs; i++)
      for (const [name, form] of Object.entries(forms))
        rss[name as keyof typeof forms].push(await rssAtReady(form.args, root, form.ready));
    const without = median(rss.without);
    const matter = median(rss.matter);
    const passed = median(rss.passed);
    const refused = median(rss.refused);
    return [
      {
        name: `resident memory without --matter, matter.js loadable (${lockfw.short}, module hook)`,
        value: round(passed, 1),
        unit: 'MB',
        baselineName:
          'the same lockfw run with every @matter/* and @project-chip/* import refused (a lock that cannot load matter.js), both under a module hook; VmRSS at ready, each in its own network namespace',
        baseline: round(refused, 1),
        ratio: round(passed / refused),
        target: `<= ${NO_MATTER_SLACK_MB} MB more`,
        pass: passed - refused <= NO_MATTER_SLACK_MB,
      },
      {
        name: `resident memory with --matter (${lockfw.short})`,
        value: round(matter, 1),
        unit: 'MB',
        baselineName:
          'the same lockfw run without --matter; ours ready once the Matter node prints its pairing line',
        baseline: round(without, 1),
        ratio: round(matter / without),
        target: `<= ${MATTER_EXTRA_LIMIT_MB} MB more`,
        pass: matter - without <= MATTER_EXTRA_LIMIT_MB,
      },
    ];
  } finally {
    remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await benchMatter()) {
    process.stdout.write(
      `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baselineName} ${row.baseline} (target ${row.target})\n`,
    );
  }
}
