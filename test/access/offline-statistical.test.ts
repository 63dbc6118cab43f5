import { describe, expect, it } from 'vitest';
import { decide } from '../../firmware/access/decide.ts';
import { deriveOfflineKey, deriveOfflineKeyV2, verifyOfflineCode } from '../../firmware/access/offline.ts';
import { NEVER_USED, offlineCredential, offlineWindow } from '../../firmware/access/offline-credential.ts';
import { HEADER_USED, HEADER_VALUES } from '../../firmware/access/offline-layout.ts';
import { V2_HEADER_USED, V2_HEADER_VALUES } from '../../firmware/access/offline-layout-v2.ts';
import { DEFAULT_CONFIG } from '../../firmware/config.ts';
import { seededRandom as prng } from '../../scripts/support/random.ts';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const ZONE = 'Europe/Berlin';
const NOW = Date.parse('2026-06-10T11:00:00Z');
const ENTRIES = 1_000_000;

/** P(X >= k) for X ~ Poisson(lambda). */
function poissonTail(k: number, lambda: number): number {
  let term = Math.exp(-lambda);
  let below = 0;
  for (let i = 0; i < k; i++) {
    below += term;
    term *= lambda / (i + 1);
  }
  return 1 - below;
}

/**
 * Types `count` uniformly random entries of the lock length `length` (version 2: its
 * L + 3 digits); counts verified and granted ones.
 */
function attack(
  length: number,
  count: number,
  seed: number,
  version: 1 | 2 = 1,
): { verified: number; granted: number } {
  const key = version === 2 ? deriveOfflineKeyV2(SECRET, 1, length) : deriveOfflineKey(SECRET, 1, length);
  const next = prng(seed);
  const headerDigits = version === 2 ? 9 : 6;
  const tagDigits = length - 6;
  let verified = 0;
  let granted = 0;
  for (let i = 0; i < count; i++) {
    const entry =
      String(Math.floor(next() * 10 ** headerDigits)).padStart(headerDigits, '0') +
      String(Math.floor(next() * 10 ** tagDigits)).padStart(tagDigits, '0');
    const code = verifyOfflineCode(key, entry, NOW, ZONE);
    if (!code) continue;
    verified++;
    const credential = offlineCredential(code, offlineWindow(code, ZONE), NEVER_USED);
    const decision = decide({
      entry,
      acceptedLengths: { min: 4, max: 10, offline: length, offlineV2: length + 3 },
      credential,
      now: NOW,
      clockTrusted: true,
      highWater: 0,
      lockedOut: false,
      mode: 'normal',
      timezone: ZONE,
      graceMs: DEFAULT_CONFIG.windowGraceSeconds * 1000,
    });
    if (decision.outcome === 'granted') granted++;
  }
  return { verified, granted };
}

describe('forgery: uniformly random entries', () => {
  it(`accepts ${ENTRIES.toLocaleString('en')} random 12-digit entries at a rate consistent with <= 1e-6`, () => {
    const { verified, granted } = attack(12, ENTRIES, 0x5eed);
    // At most 1e-6 per entry means at most 1 expected in a million; a one-sided
    // Poisson test at the 0.1% level refuses the claim only from 6 upwards.
    const lambda = ENTRIES * 1e-6;
    expect(granted).toBeLessThanOrEqual(verified);
    expect(poissonTail(verified, lambda)).toBeGreaterThan(0.001);
    expect(verified).toBeLessThanOrEqual(5);
  }, 120_000);

  it('is not vacuous: with a 5-digit tag (L = 11) the same attack succeeds about 10 times per million', () => {
    const { verified } = attack(11, ENTRIES, 0xbad5eed);
    const lambda = ENTRIES * 1e-5 * (HEADER_USED / HEADER_VALUES);
    // Inside the central 99.8% of Poisson(9.9): 2..21.
    expect(poissonTail(verified, lambda)).toBeGreaterThan(0.001);
    expect(1 - poissonTail(verified + 1, lambda)).toBeGreaterThan(0.001);
  }, 120_000);
});

describe('forgery: uniformly random version 2 entries', () => {
  it(`accepts ${ENTRIES.toLocaleString('en')} random 15-digit entries at a rate consistent with <= 1e-6`, () => {
    const { verified, granted } = attack(12, ENTRIES, 0x2eed, 2);
    expect(granted).toBeLessThanOrEqual(verified);
    expect(poissonTail(verified, ENTRIES * 1e-6)).toBeGreaterThan(0.001);
    expect(verified).toBeLessThanOrEqual(5);
  }, 120_000);

  it('is not vacuous: with a 5-digit tag (14 digits, L = 11) it succeeds about 6.6 times per million', () => {
    const { verified } = attack(11, ENTRIES, 0x2bad, 2);
    const lambda = ENTRIES * 1e-5 * (V2_HEADER_USED / V2_HEADER_VALUES);
    expect(poissonTail(verified, lambda)).toBeGreaterThan(0.001);
    expect(1 - poissonTail(verified + 1, lambda)).toBeGreaterThan(0.001);
  }, 120_000);
});

describe('the per-year bound in docs/offline-codes.md', () => {
  it('holds for the default lockout settings', () => {
    // Best single guess: the most likely tag residue of a 31-bit truncation mod 10^6.
    const perGuess = Math.ceil(2 ** 31 / 1e6) / 2 ** 31;
    expect(perGuess).toBeLessThan(1.00025e-6);
    // The daily budget binds before the consecutive-failure lockout: at most
    // dailyFailureLimit wrong entries per local day, 366 days a year.
    const guessesPerYear = DEFAULT_CONFIG.dailyFailureLimit * 366;
    expect(guessesPerYear).toBe(18_300);
    const perYear = 1 - (1 - perGuess) ** guessesPerYear;
    expect(perYear).toBeLessThan(0.0184);
    expect(perYear).toBeGreaterThan(0.018);
  });
});
