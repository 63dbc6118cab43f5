import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimRtc } from './rtc.ts';

const FILE = 'sim-rtc.json';

export interface SimRtcStart {
  startEpochMs: number;
  rtcValid: boolean;
}

/**
 * A real RTC keeps time on its battery while the board is off. The simulated one keeps
 * its offset from the host clock (time travel, set times) in the data dir, so a
 * restarted simulator does not read a time behind its own floor.
 */
export function loadSimRtc(dataDir: string, now: number = Date.now()): SimRtcStart {
  try {
    const saved = JSON.parse(readFileSync(join(dataDir, FILE), 'utf8')) as {
      offsetMs: unknown;
      valid: unknown;
    };
    if (
      typeof saved.offsetMs === 'number' &&
      Number.isFinite(saved.offsetMs) &&
      typeof saved.valid === 'boolean'
    ) {
      return { startEpochMs: now + saved.offsetMs, rtcValid: saved.valid };
    }
  } catch {
    // No file yet (first start) or an unreadable one: start from the host clock.
  }
  return { startEpochMs: now, rtcValid: true };
}

export function saveSimRtc(dataDir: string, rtc: SimRtc, now: number = Date.now()): void {
  const reading = rtc.peek();
  const path = join(dataDir, FILE);
  writeFileSync(
    `${path}.tmp`,
    `${JSON.stringify({ offsetMs: reading.epochMs - now, valid: reading.valid })}\n`,
  );
  renameSync(`${path}.tmp`, path);
}
