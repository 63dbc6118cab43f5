import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCodeSpec } from '../../firmware/access/code-spec.ts';
import { planOfflineCode } from '../../firmware/access/offline-issue.ts';
import { parseTechnicianTime } from '../../firmware/diag/commands/time.ts';
import { commandSchema, desiredCodesSchema } from '../../firmware/sync/messages.ts';
import { checkIsoInstant, readInstantWithLuxon, readStrictInstant } from '../../firmware/validation.ts';
import { parseScenario } from '../../keypad-sim/scenario/schema.ts';

const NOON_UTC = Date.UTC(2026, 6, 1, 12, 0, 0);
const TEN_UTC = Date.UTC(2026, 6, 1, 10, 0, 0);

// The written offset decides the instant; a zone suffix only has to agree with it.
const ACCEPTED: Array<[string, number]> = [
  ['2026-07-01T12:00:00Z', NOON_UTC],
  ['2026-07-01T12:00:00Z[Europe/Zurich]', NOON_UTC],
  ['2026-07-01T12:00:00z[Europe/Zurich]', NOON_UTC],
  ['2026-07-01T12:00:00+02:00[Europe/Zurich]', TEN_UTC],
  ['2026-07-01T12:00:00+02:00[!Europe/Zurich]', TEN_UTC],
  ['2026-07-01T12:00:00+0200', TEN_UTC],
  ['2026-07-01T12:00:00-00:00[Europe/Zurich]', NOON_UTC],
];

const REFUSED: Array<[string, RegExp]> = [
  [
    '2026-07-01T12:00:00+05:00[Europe/Zurich]',
    /offset \+05:00 is not Europe\/Zurich's at that instant \(\+02:00\)/,
  ],
  ['2026-01-01T12:00:00+02:00[Europe/Zurich]', /not Europe\/Zurich's at that instant \(\+01:00\)/],
  ['2026-07-01T12:00:00[Europe/Zurich]', /with an offset/],
  ['2026-07-01T12:00:00', /with an offset/],
  ['2026-07-01T12:00:00+02:00[Mars/Olympus]', /unknown time zone "Mars\/Olympus"/],
  ['2026-07-01T12:00:00+02:00[u-ca=gregory]', /a suffix may only name a time zone/],
  ['2026-07-01T12:00:00Z[Europe/Zurich][u-ca=iso8601]', /a suffix may only name a time zone/],
  ['2026-07-01T12:00:00zulu', /with an offset/],
];

describe('one reading of ISO instants (RFC 9557 zone suffixes)', () => {
  it.each(ACCEPTED)('%s is %d', (text, ms) => {
    expect(checkIsoInstant(text)).toEqual({ ok: true, ms });
  });

  it.each(REFUSED)('%s is refused', (text, message) => {
    const result = checkIsoInstant(text);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.message).toMatch(message);
  });

  it('code windows', () => {
    const code = (starts_at: string) =>
      parseCodeSpec({
        name: 'g',
        pin: '2468',
        kind: 'time_bound',
        starts_at,
        ends_at: '2026-07-02T00:00:00Z',
      });
    expect(code('2026-07-01T12:00:00Z[Europe/Zurich]')).toMatchObject({
      ok: true,
      spec: { startsAt: NOON_UTC },
    });
    expect(code('2026-07-01T12:00:00+05:00[Europe/Zurich]')).toMatchObject({
      ok: false,
      error: 'invalid_window',
      message: expect.stringMatching(/^starts_at: offset \+05:00 is not Europe\/Zurich's/),
    });
  });

  it('desired documents and commands', () => {
    const doc = (issued_at: string) =>
      desiredCodesSchema.safeParse({ revision: 1, issued_at, codes: [] }).success;
    expect(doc('2026-07-01T12:00:00Z[Europe/Zurich]')).toBe(true);
    expect(doc('2026-07-01T12:00:00+05:00[Europe/Zurich]')).toBe(false);
    const command = (expires_at: string) =>
      commandSchema.safeParse({
        id: 'c1',
        name: 'unlock',
        counter: 1,
        expires_at,
        incarnation: 'a'.repeat(32),
      }).success;
    expect(command('2026-07-01T12:00:00+02:00[Europe/Zurich]')).toBe(true);
    expect(command('2026-07-01T12:00:00+05:00[Europe/Zurich]')).toBe(false);
  });

  it('the console time set (local wall time without an offset still works)', () => {
    expect(parseTechnicianTime(['2026-07-01T12:00:00Z[Europe/Zurich]'], 'Europe/Zurich')).toBe(NOON_UTC);
    expect(() => parseTechnicianTime(['2026-07-01T12:00:00+05:00[Europe/Zurich]'], 'UTC')).toThrow(
      /offset \+05:00 is not Europe\/Zurich's/,
    );
    expect(parseTechnicianTime(['2026-07-01', '12:00'], 'Europe/Zurich')).toBe(TEN_UTC);
  });

  it('the console time set refuses a local time the clocks skip or show twice (an offset decides)', () => {
    // 2026-10-25 02:30 happens twice in Berlin (CEST, then CET); 2026-03-29 02:30 never.
    expect(() => parseTechnicianTime(['2026-10-25', '02:30'], 'Europe/Berlin')).toThrow(
      /happens twice in Europe\/Berlin .*2026-10-25T02:30\+02:00 or 2026-10-25T02:30\+01:00/,
    );
    expect(() => parseTechnicianTime(['2026-03-29', '02:30'], 'Europe/Berlin')).toThrow(
      /does not exist in Europe\/Berlin/,
    );
    expect(parseTechnicianTime(['2026-10-25T02:30:00+02:00'], 'Europe/Berlin')).toBe(
      Date.UTC(2026, 9, 25, 0, 30),
    );
    expect(parseTechnicianTime(['2026-10-25', '03:30'], 'Europe/Berlin')).toBe(Date.UTC(2026, 9, 25, 2, 30));
  });

  it('offline code starts (local time without an offset still works)', () => {
    const start = (text: string) =>
      planOfflineCode(
        { kind: 'one_time', start: text },
        { timezone: 'Europe/Zurich', now: NOON_UTC - 86_400_000 },
      );
    const suffixed = start('2026-07-01T12:00:00Z[Europe/Zurich]');
    expect(suffixed).toMatchObject({ ok: true });
    expect(suffixed.ok && suffixed.plan.window.validFrom).toBe(NOON_UTC);
    expect(start('2026-07-01T12:00:00+05:00[Europe/Zurich]')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^start: offset \+05:00/),
    });
    const local = start('2026-07-01T12:00');
    expect(local.ok && local.plan.window.validFrom).toBe(TEN_UTC);
  });

  it('scenario files', () => {
    const scenario = (time: string) =>
      parseScenario('s.json', { name: 'x', device: { time }, steps: [{ sync_time: time }] });
    expect(scenario('2026-07-01T12:00:00Z[Europe/Zurich]').device.time).toBe(NOON_UTC);
    expect(() => scenario('2026-07-01T12:00:00+05:00[Europe/Zurich]')).toThrow(/device.time: offset \+05:00/);
  });
});

describe('the strict-form fast path reads what luxon reads', () => {
  const digits = (n: number, max: number) =>
    fc.integer({ min: 0, max }).map((v) => String(v).padStart(n, '0'));
  /** The strict shape with every field over its whole digit range, so invalid dates and offsets come up too. */
  const strictShape = fc
    .tuple(
      digits(4, 9999),
      digits(2, 99),
      digits(2, 99),
      digits(2, 99),
      digits(2, 99),
      digits(2, 99),
      fc.option(
        fc.integer({ min: 1, max: 3 }).chain((n) => digits(n, 10 ** n - 1)),
        { nil: undefined },
      ),
      fc.oneof(
        fc.constant('Z'),
        fc.tuple(fc.constantFrom('+', '-'), digits(2, 99), digits(2, 99)).map(([s, h, m]) => `${s}${h}:${m}`),
      ),
    )
    .map(
      ([y, mo, d, h, mi, s, frac, offset]) =>
        `${y}-${mo}-${d}T${h}:${mi}:${s}${frac === undefined ? '' : `.${frac}`}${offset}`,
    );
  /** Plausible instants: the common case, where the fast path must answer. */
  const plausible = fc
    .tuple(
      fc.date({
        min: new Date(Date.UTC(1001, 0, 1)),
        max: new Date(Date.UTC(9998, 11, 31)),
        noInvalidDate: true,
      }),
      fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      fc.boolean(),
    )
    .map(([date, offset, millis]) => {
      const local = new Date(date.getTime() + offset * 60_000).toISOString();
      const sign = offset < 0 ? '-' : '+';
      const abs = Math.abs(offset);
      const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
      return `${millis ? local.slice(0, 23) : local.slice(0, 19)}${offset === 0 && millis ? 'Z' : zone}`;
    });

  it('never disagrees with luxon where it answers', () => {
    fc.assert(
      fc.property(fc.oneof(strictShape, plausible), (text) => {
        const fast = readStrictInstant(text);
        if (fast !== undefined) expect(fast).toEqual(readInstantWithLuxon(text));
        expect(checkIsoInstant(text)).toEqual(
          (() => {
            const slow = readInstantWithLuxon(text);
            return slow ? { ok: true, ms: slow.ms } : checkIsoInstant(`${text}!`);
          })(),
        );
      }),
      { numRuns: 3000, seed: 20261129 },
    );
  });

  it('answers for the plausible instants (the common form is not left to luxon)', () => {
    fc.assert(
      fc.property(plausible, (text) => {
        expect(readStrictInstant(text)).toBeDefined();
      }),
      { numRuns: 500, seed: 20261129 },
    );
  });

  it('leaves other forms to luxon', () => {
    for (const text of [
      '2026-07-01T24:00:00Z',
      '2026-02-29T12:00:00Z',
      '2026-07-01T12:00:00+24:00',
      '2026-07-01T12:00:00+05:60',
      '2026-07-01T12:00:00.1234Z',
      '2026-07-01T12:00:00z',
      '2026-07-01T12:00:00+0200',
      '2026-W27-3T12:00:00Z',
      '0999-07-01T12:00:00Z',
    ])
      expect(readStrictInstant(text)).toBeUndefined();
    expect(checkIsoInstant('2026-07-01T24:00:00Z')).toEqual({ ok: true, ms: Date.UTC(2026, 6, 2) });
    expect(checkIsoInstant('2026-02-29T12:00:00Z').ok).toBe(false);
  });
});
