import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS = 100;

/** CPU seconds (user + system) a process has used, or undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/** Processes whose command name is one of `names` (postgres backends, mosquitto). */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

export interface SideCpu {
  /** All of the side's processes together, % of one core. */
  totalPercent: number;
  /** Its busiest process, % of one core (a Node process or Mosquitto runs on one). */
  maxProcessPercent: number;
  processes: number;
}

export interface CpuUse {
  cores: number;
  /** The whole machine, % of all its cores. */
  machinePercent: number;
  sides: Record<string, SideCpu>;
}

/**
 * CPU use per side of the run (locks, gateways, database, broker) between start() and
 * stop(), from /proc: a process must exist at both ends to be counted.
 */
export class CpuMeter {
  private startedAt = 0;
  private machine = { busy: 0, total: 0 };
  private readonly before = new Map<string, Map<number, number>>();

  constructor(private readonly sides: Record<string, () => number[]>) {}

  private sample(): Map<string, Map<number, number>> {
    const out = new Map<string, Map<number, number>>();
    for (const [side, pids] of Object.entries(this.sides)) {
      const times = new Map<number, number>();
      for (const pid of pids()) {
        const seconds = processCpuSeconds(pid);
        if (seconds !== undefined) times.set(pid, seconds);
      }
      out.set(side, times);
    }
    return out;
  }

  start(): void {
    this.startedAt = performance.now();
    this.machine = machineTicks();
    this.before.clear();
    for (const [side, times] of this.sample()) this.before.set(side, times);
  }

  stop(): CpuUse {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const machine = machineTicks();
    const sides: Record<string, SideCpu> = {};
    for (const [side, times] of this.sample()) {
      const before = this.before.get(side) ?? new Map<number, number>();
      const used = [...times].filter(([pid]) => before.has(pid)).map(([pid, t]) => t - before.get(pid)!);
      const percent = (cpuSeconds: number) => Math.round((cpuSeconds / seconds) * 100);
      sides[side] = {
        totalPercent: percent(used.reduce((a, b) => a + b, 0)),
        maxProcessPercent: percent(Math.max(0, ...used)),
        processes: used.length,
      };
    }
    const total = machine.total - this.machine.total;
    return {
      cores: cpus().length,
      machinePercent: total > 0 ? Math.round(((machine.busy - this.machine.busy) / total) * 100) : 0,
      sides,
    };
  }
}
