import { createHmac } from 'node:crypto';
import { dynamicTruncate } from '../../firmware/access/hotp.ts';

/**
 * A model of the search-based validators in closed offline-code formats (igloohome
 * and TTLock style): the code is a 9-digit tag over (start hour, duration) and carries
 * neither, so the lock tries every start hour of the 24-hour activation window against
 * every duration. Not their real algorithms (those are closed), the same amount of work.
 * It also shows the cost in security: a random entry now matches any of 24 x 672
 * candidates, so forgery is 16,128 times likelier than one tag comparison.
 */
export const SEARCH_START_HOURS = 24;
export const SEARCH_MAX_HOURS = 672;
const TAG_MODULUS = 10 ** 9;
const block = Buffer.alloc(8);

function tagFor(key: Uint8Array, startHour: number, hours: number): number {
  block.writeUInt32BE(startHour, 0);
  block.writeUInt32BE(hours, 4);
  return dynamicTruncate(createHmac('sha256', key).update(block).digest()) % TAG_MODULUS;
}

export function issueSearchCode(key: Uint8Array, startHour: number, hours: number): string {
  return String(tagFor(key, startHour, hours)).padStart(9, '0');
}

/** Tries every (start hour, duration); undefined when none matches (the attacker's case: all 16,128). */
export function searchValidate(
  key: Uint8Array,
  entry: string,
  nowMs: number,
): { startHour: number; hours: number } | undefined {
  if (!/^\d{9}$/.test(entry)) return undefined;
  const tag = Number(entry);
  const now = Math.floor(nowMs / 3_600_000);
  for (let startHour = now - SEARCH_START_HOURS + 1; startHour <= now; startHour++) {
    for (let hours = 1; hours <= SEARCH_MAX_HOURS; hours++) {
      if (tagFor(key, startHour, hours) === tag) return { startHour, hours };
    }
  }
  return undefined;
}
