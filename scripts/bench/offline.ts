import { createHmac } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { deriveOfflineKey, deriveOfflineKeyV2, verifyOfflineCode } from '../../firmware/access/offline.ts';
import { issueOfflineCode, type OfflineRequest } from '../../firmware/access/offline-issue.ts';
import { seededRandom as prng } from '../support/random.ts';
import { issueSearchCode, searchValidate } from './search-peer.ts';
import type { BenchRow } from './types.ts';

/**
 * Offline-code validation per entry, side by side in one run: our validator, the floor
 * (one bare node:crypto HMAC-SHA256) and a search-based validator of the closed formats.
 * Medians of interleaved rounds, so a busy machine slows all three alike.
 */

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);
const ZONE = 'Europe/Berlin';
const NOW = Date.parse('2026-06-10T10:00:00Z');
const ROUNDS = 41;
const PER_ROUND = 5000;
const SEARCH_ENTRIES = 12;

const REQUESTS: OfflineRequest[] = [
  { kind: 'one_time', start: '2026-06-10T10:00:00Z' },
  { kind: 'hourly', start: '2026-06-10T09:00:00Z', hours: 72 },
  { kind: 'daily', start: '2026-06-10', days: 30 },
  { kind: 'permanent', start: '2026-06-10' },
  { kind: 'recurring', start: '2026-06-08', daysOfWeek: ['mon', 'wed', 'fri'], from: '08:00', to: '18:00' },
];

/** Version 2: local-hour starts, check-in/out, variants, any weekday set (15 digits). */
const REQUESTS_V2: OfflineRequest[] = [
  { version: 2, kind: 'one_time', start: '2026-06-10T12:00', variant: 3 },
  { version: 2, kind: 'hourly', start: '2026-06-10T11:00', hours: 72, variant: 1 },
  {
    version: 2,
    kind: 'daily',
    start: '2026-06-10',
    checkIn: '11:00',
    checkOut: '10:00',
    days: 30,
    variant: 2,
  },
  { version: 2, kind: 'permanent', start: '2026-06-10T09:00' },
  {
    version: 2,
    kind: 'recurring',
    start: '2026-06-08',
    daysOfWeek: ['mon', 'wed', 'thu'],
    from: '08:00',
    to: '18:00',
    weeks: 52,
  },
];

const randomDigits = (next: () => number, length: number) =>
  Array.from({ length }, () => String(Math.floor(next() * 10))).join('');

function nsPerCall(fn: (i: number) => unknown, calls: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn(i);
  return Number(process.hrtime.bigint() - started) / calls;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

export async function benchOffline(): Promise<BenchRow[]> {
  const key = deriveOfflineKey(SECRET, 1);
  const next = prng(0x7e57);
  // Half genuine codes of every kind, half random guesses (the attacker's entries).
  const valid = REQUESTS.map(
    (request) => issueOfflineCode(SECRET, 1, request, { timezone: ZONE, now: NOW }).code,
  );
  const entries = Array.from({ length: 1024 }, (_, i) =>
    i % 2 ? valid[i % valid.length]! : randomDigits(next, 12),
  );
  const block = Buffer.alloc(8);
  const floor = (i: number) => {
    block.writeUInt32BE(i, 4);
    return createHmac('sha256', key.bytes).update(block).digest();
  };
  const ours = (i: number) => verifyOfflineCode(key, entries[i & 1023]!, NOW, ZONE);
  if (!valid.every((code) => verifyOfflineCode(key, code, NOW, ZONE)))
    throw new Error('bench: a genuine code did not verify');
  const keyV2 = deriveOfflineKeyV2(SECRET, 1);
  const validV2 = REQUESTS_V2.map(
    (request) => issueOfflineCode(SECRET, 1, request, { timezone: ZONE, now: NOW }).code,
  );
  const entriesV2 = Array.from({ length: 1024 }, (_, i) =>
    i % 2 ? validV2[i % validV2.length]! : randomDigits(next, 15),
  );
  const oursV2 = (i: number) => verifyOfflineCode(keyV2, entriesV2[i & 1023]!, NOW, ZONE);
  if (!validV2.every((code) => verifyOfflineCode(keyV2, code, NOW, ZONE)))
    throw new Error('bench: a genuine version 2 code did not verify');

  nsPerCall(floor, 20_000);
  nsPerCall(ours, 20_000);
  nsPerCall(oursV2, 20_000);
  const floorRuns: number[] = [];
  const ourRuns: number[] = [];
  const ourV2Runs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    floorRuns.push(nsPerCall(floor, PER_ROUND));
    ourRuns.push(nsPerCall(ours, PER_ROUND));
    ourV2Runs.push(nsPerCall(oursV2, PER_ROUND));
  }
  const floorNs = median(floorRuns);
  const ourNs = median(ourRuns);
  const ourV2Ns = median(ourV2Runs);

  // The search peer: random entries make it try all 24 x 672 candidates; a genuine
  // code stops it half-way on average. Both, like ours.
  const nowHour = Math.floor(NOW / 3_600_000);
  const searchEntries = Array.from({ length: SEARCH_ENTRIES }, (_, i) =>
    i % 2 ? issueSearchCode(key.bytes, nowHour - (i % 24), 1 + ((i * 97) % 672)) : randomDigits(next, 9),
  );
  const searchNs = nsPerCall((i) => searchValidate(key.bytes, searchEntries[i]!, NOW), SEARCH_ENTRIES);

  const ourRatio = ourNs / floorNs;
  const speedup = searchNs / ourNs;
  return [
    {
      name: 'offline code validation (ours: one HMAC)',
      value: Math.round(ourNs),
      unit: 'ns/entry',
      baselineName: 'one bare node:crypto HMAC-SHA256 (floor)',
      baseline: Math.round(floorNs),
      ratio: Number(ourRatio.toFixed(2)),
      target: '<= 2x the floor',
      pass: ourRatio <= 2,
    },
    {
      name: 'offline code validation, version 2 (ours: one HMAC)',
      value: Math.round(ourV2Ns),
      unit: 'ns/entry',
      baselineName: 'one bare node:crypto HMAC-SHA256 (floor)',
      baseline: Math.round(floorNs),
      ratio: Number((ourV2Ns / floorNs).toFixed(2)),
      target: '<= 2x the floor',
      pass: ourV2Ns / floorNs <= 2,
    },
    {
      name: 'search validator (24 start hours x 672 durations)',
      value: Math.round(searchNs),
      unit: 'ns/entry',
      baselineName: 'offline code validation (ours: one HMAC)',
      baseline: Math.round(ourNs),
      ratio: Math.round(speedup),
      target: 'ours >= 100x faster',
      pass: speedup >= 100,
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  for (const row of await benchOffline()) {
    process.stdout.write(
      `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baselineName} ${row.baseline} (ratio ${row.ratio}; target ${row.target})\n`,
    );
  }
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
