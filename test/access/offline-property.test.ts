import { mkdirSync } from 'node:fs';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { decide } from '../../firmware/access/decide.ts';
import { deriveOfflineKey, verifyOfflineCode } from '../../firmware/access/offline.ts';
import { offlineCredential, offlineWindow } from '../../firmware/access/offline-credential.ts';
import {
  type IssuedOfflineCode,
  issueOfflineCode,
  type OfflineRequest,
} from '../../firmware/access/offline-issue.ts';
import { DAY_SETS, WINDOWS } from '../../firmware/access/offline-layout.ts';
import { withinSchedule } from '../../firmware/access/schedule.ts';
import { DEFAULT_CONFIG } from '../../firmware/config.ts';
import { openStore } from '../../firmware/firmware.ts';
import { createOfflineResolver } from '../../firmware/offline-path.ts';
import { tempDir } from '../helpers/tmp.ts';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const HOUR = 3_600_000;
const DAY = 86_400_000;
const GRACE = DEFAULT_CONFIG.windowGraceSeconds * 1000;
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
];
/** Starts between 2026-01-01 and 2027-12-31. */
const FIRST_HOUR = Date.UTC(2026, 0, 1) / HOUR;
const LAST_HOUR = Date.UTC(2027, 11, 31) / HOUR;

const request: fc.Arbitrary<OfflineRequest> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('one_time', 'erase'),
    start: fc.integer({ min: FIRST_HOUR, max: LAST_HOUR }).map((h) => h * HOUR),
  }),
  fc.record({
    kind: fc.constant('hourly'),
    start: fc.integer({ min: FIRST_HOUR, max: LAST_HOUR }).map((h) => h * HOUR),
    hours: fc.integer({ min: 1, max: 672 }),
  }),
  fc.record({
    kind: fc.constant('daily'),
    start: fc
      .integer({ min: 0, max: 720 })
      .map((d) => new Date(Date.UTC(2026, 0, 1) + d * DAY).toISOString().slice(0, 10)),
    days: fc.integer({ min: 1, max: 367 }),
  }),
  fc.record({
    kind: fc.constant('permanent'),
    start: fc
      .integer({ min: 0, max: 720 })
      .map((d) => new Date(Date.UTC(2026, 0, 1) + d * DAY).toISOString().slice(0, 10)),
  }),
  fc
    .record({
      start: fc
        .integer({ min: 0, max: 720 })
        .map((d) => new Date(Date.UTC(2026, 0, 1) + d * DAY).toISOString().slice(0, 10)),
      daySet: fc.integer({ min: 0, max: DAY_SETS.length - 1 }),
      window: fc.integer({ min: 0, max: WINDOWS.length - 1 }),
    })
    .map(({ start, daySet, window }) => {
      const [from, to] = WINDOWS[window]!;
      const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
      return { kind: 'recurring', start, daysOfWeek: [...DAY_SETS[daySet]!], from: hh(from), to: hh(to) };
    }),
);

function issue(req: OfflineRequest, zone: string): IssuedOfflineCode {
  // The issuer's clock an hour before the start: every request here is issuable.
  const start = typeof req.start === 'number' ? req.start : DateTime.fromISO(req.start, { zone }).toMillis();
  return issueOfflineCode(SECRET, 1, req, { timezone: zone, now: start - HOUR });
}

/** What decide() says for `code` at `t`, given whether (and when) it was first used. */
function judge(code: IssuedOfflineCode, t: number, activatedAt: number | null): string {
  const key = deriveOfflineKey(SECRET, 1);
  const verified = verifyOfflineCode(key, code.code, t, code.timezone);
  const credential = verified
    ? offlineCredential(verified, offlineWindow(verified, code.timezone), {
        activatedAt,
        uses: activatedAt ? 1 : 0,
        revoked: false,
      })
    : undefined;
  const d = decide({
    entry: code.code,
    acceptedLengths: { min: 4, max: 10, offline: 12 },
    credential,
    now: t,
    clockTrusted: true,
    highWater: 0,
    lockedOut: false,
    mode: 'normal',
    timezone: code.timezone,
    graceMs: GRACE,
  });
  return d.outcome === 'granted' ? 'granted' : d.reason;
}

/** The rule written out: inside [start, end) widened by the grace, end = activation deadline until first use. */
function shouldOpen(code: IssuedOfflineCode, t: number, activated: boolean): boolean {
  const end = activated || code.activateBy === null ? code.validUntil : code.activateBy;
  if (t < code.validFrom - GRACE) return false;
  if (end !== null && t >= end + GRACE) return false;
  if (code.schedule && !withinSchedule(code.schedule, t, code.timezone, GRACE)) return false;
  return true;
}

describe('property: an issued code opens exactly inside its window (± grace), never outside', () => {
  it('before first use (activation deadline applies)', () => {
    fc.assert(
      fc.property(
        request,
        fc.constantFrom(...ZONES),
        fc.double({ min: -0.2, max: 1.2, noNaN: true }),
        fc.integer({ min: -3, max: 3 }),
        (req, zone, where, edge) => {
          const code = issue(req, zone);
          const end = code.activateBy ?? code.validUntil!;
          // Probe anywhere around the window, and right at its edges (± grace ± a minute).
          const span = end - code.validFrom;
          const t =
            edge === 0
              ? Math.round(code.validFrom + where * span)
              : (edge > 0 ? end : code.validFrom) + Math.sign(edge) * GRACE + (Math.abs(edge) - 2) * 60_000;
          const got = judge(code, t, null);
          expect(got === 'granted').toBe(shouldOpen(code, t, false));
          if (got !== 'granted')
            expect(['not_yet_active', 'expired', 'outside_schedule', 'unknown_code']).toContain(got);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('after first use (multi-use codes keep their whole window)', () => {
    const multi = request.filter((r) => r.kind !== 'one_time' && r.kind !== 'erase');
    fc.assert(
      fc.property(
        multi,
        fc.constantFrom(...ZONES),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1.3, noNaN: true }),
        (req, zone, a, b) => {
          const code = issue(req, zone);
          // First use somewhere it was allowed; later entries only move forward in time.
          const activatedAt = Math.round(
            code.validFrom + a * ((code.activateBy ?? code.validFrom + DAY) - code.validFrom),
          );
          const horizon = (code.validUntil ?? code.validFrom + 3000 * DAY) - activatedAt;
          const t = Math.round(activatedAt + b * horizon);
          const got = judge(code, t, activatedAt);
          expect(got === 'granted').toBe(shouldOpen(code, t, true));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('two different requests never share a code or a fingerprint', () => {
    fc.assert(
      fc.property(request, request, fc.constantFrom(...ZONES), (r1, r2, zone) => {
        const a = issue(r1, zone);
        const b = issue(r2, zone);
        if (JSON.stringify(a.fields) === JSON.stringify(b.fields)) return;
        expect(a.fingerprint).not.toBe(b.fingerprint);
        expect(a.code).not.toBe(b.code);
      }),
      { numRuns: 300 },
    );
  });
});

/*
 * The SIGKILL property (a one_time code opens once even when the process is killed
 * between the decision and the relay) needs a real child process: the lead writes it.
 * Here, in process: the use is committed in the decision's transaction, so an
 * interrupted transaction leaves no use and no grant, a committed one leaves both,
 * whatever order of entries, rollbacks and reopenings.
 */
describe('property: a one_time code opens once (in process, SQLite on disk)', () => {
  it('across interrupted transactions and reopenings of the store', () => {
    const dir = tempDir();
    const start = Date.UTC(2026, 5, 10, 12);
    const config = { ...DEFAULT_CONFIG, timezone: 'UTC' };
    let run = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            action: fc.constantFrom('enter', 'enter-and-crash', 'reopen'),
            minutes: fc.integer({ min: 0, max: 600 }),
          }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (steps) => {
          const runDir = `${dir}/run-${run++}`;
          mkdirSync(runDir);
          let parts = openStore(runDir);
          const local = issueOfflineCode(
            parts.secret,
            1,
            { kind: 'one_time', start },
            { timezone: 'UTC', now: start },
          );
          let resolver = createOfflineResolver(parts, config);
          let grants = 0;
          let t = start + 60_000;
          for (const step of steps) {
            t += step.minutes * 60_000;
            if (step.action === 'reopen') {
              parts.db.close();
              parts = openStore(runDir);
              resolver = createOfflineResolver(parts, config);
              continue;
            }
            const reading = { epochMs: t, trusted: true, untrustedReason: null, floor: t, highWater: t };
            const credential = resolver.resolve(local.code, reading, 'UTC');
            const decision = decide({
              entry: local.code,
              acceptedLengths: { min: 4, max: 10, offline: 12 },
              credential,
              now: t,
              clockTrusted: true,
              highWater: 0,
              lockedOut: false,
              mode: 'normal',
              timezone: 'UTC',
              graceMs: GRACE,
            });
            if (decision.outcome !== 'granted') continue;
            try {
              parts.db
                .transaction(() => {
                  resolver.recordGrant(local.code, credential!, t);
                  if (step.action === 'enter-and-crash') throw new Error('power cut before commit');
                })
                .immediate();
              grants++; // committed: now the relay would move
            } catch {
              // Not committed: the relay never moved, and nothing was recorded.
            }
          }
          parts.db.close();
          expect(grants).toBeLessThanOrEqual(1);
          // After a last power cut, the store holds exactly the committed uses.
          const after = openStore(runDir);
          const tryAgain = createOfflineResolver(after, config).resolve(
            local.code,
            {
              epochMs: start + 3_600_000,
              trusted: true,
              untrustedReason: null,
              floor: start + 3_600_000,
              highWater: start + 3_600_000,
            },
            'UTC',
          );
          expect(tryAgain?.uses ?? 0).toBe(grants);
          after.db.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
