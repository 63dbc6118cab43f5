import { describe, expect, it } from 'vitest';
import { type DecisionInput, decide } from '../../firmware/access/decide.ts';
import type { Credential, Mode } from '../../firmware/access/types.ts';

const NOW = Date.parse('2026-06-10T12:00:00Z'); // a Wednesday
const HOUR = 3_600_000;

function code(overrides: Partial<Credential> = {}): Credential {
  return {
    id: 7,
    name: 'guest',
    kind: 'ongoing',
    role: 'standard',
    enabled: true,
    revoked: false,
    assigned: true,
    startsAt: null,
    endsAt: null,
    schedule: null,
    maxUses: null,
    expireAfterFirstUseMin: null,
    uses: 0,
    firstUsedAt: null,
    ...overrides,
  };
}

function input(credential: Credential | undefined, overrides: Partial<DecisionInput> = {}): DecisionInput {
  return {
    entry: '1234',
    acceptedLengths: { min: 4, max: 10, offline: 12 },
    credential,
    now: NOW,
    clockTrusted: true,
    highWater: 0,
    lockedOut: false,
    mode: 'normal',
    timezone: 'Europe/Berlin',
    graceMs: 120_000,
    ...overrides,
  };
}

const result = (i: DecisionInput) => {
  const d = decide(i);
  return d.outcome === 'granted' ? (d.duress ? 'granted+duress' : 'granted') : d.reason;
};

describe('decide: kinds and rules', () => {
  const cases: Array<[string, Credential | undefined, Partial<DecisionInput>, string]> = [
    ['ongoing code', code(), {}, 'granted'],
    ['no matching code', undefined, {}, 'unknown_code'],
    ['too short', code(), { entry: '123' }, 'malformed'],
    ['11 digits (neither PIN nor offline length)', code(), { entry: '12345678901' }, 'malformed'],
    ['disabled', code({ enabled: false }), {}, 'disabled'],
    ['unassigned backup', code({ assigned: false }), {}, 'disabled'],
    ['revoked', code({ revoked: true }), {}, 'revoked'],
    [
      'time_bound inside',
      code({ kind: 'time_bound', startsAt: NOW - HOUR, endsAt: NOW + HOUR }),
      {},
      'granted',
    ],
    [
      'time_bound before start',
      code({ kind: 'time_bound', startsAt: NOW + HOUR, endsAt: NOW + 2 * HOUR }),
      {},
      'not_yet_active',
    ],
    [
      'time_bound within start grace',
      code({ kind: 'time_bound', startsAt: NOW + 60_000, endsAt: NOW + HOUR }),
      {},
      'granted',
    ],
    [
      'time_bound after end',
      code({ kind: 'time_bound', startsAt: NOW - 2 * HOUR, endsAt: NOW - HOUR }),
      {},
      'expired',
    ],
    [
      'time_bound within end grace',
      code({ kind: 'time_bound', startsAt: NOW - HOUR, endsAt: NOW - 60_000 }),
      {},
      'granted',
    ],
    [
      'time_bound just past end grace',
      code({ kind: 'time_bound', startsAt: NOW - HOUR, endsAt: NOW - 120_000 }),
      {},
      'expired',
    ],
    ['one_time unused', code({ kind: 'one_time' }), {}, 'granted'],
    ['one_time used', code({ kind: 'one_time', uses: 1 }), {}, 'used_up'],
    ['max_uses left', code({ maxUses: 3, uses: 2 }), {}, 'granted'],
    ['max_uses reached', code({ maxUses: 3, uses: 3 }), {}, 'used_up'],
    ['expire-after-first-use, unused', code({ expireAfterFirstUseMin: 60 }), {}, 'granted'],
    [
      'expire-after-first-use, within',
      code({ expireAfterFirstUseMin: 60, uses: 1, firstUsedAt: NOW - 30 * 60_000 }),
      {},
      'granted',
    ],
    [
      'expire-after-first-use, past',
      code({ expireAfterFirstUseMin: 60, uses: 1, firstUsedAt: NOW - 2 * HOUR }),
      {},
      'expired',
    ],
    [
      'recurring inside (Wed 13:00-15:00 Berlin = 11:00-13:00Z)',
      code({ kind: 'recurring', schedule: { days: ['wed'], from: '13:00', to: '15:00' } }),
      {},
      'granted',
    ],
    [
      'recurring wrong day',
      code({ kind: 'recurring', schedule: { days: ['tue', 'thu'], from: '13:00', to: '15:00' } }),
      {},
      'outside_schedule',
    ],
    [
      'recurring wrong hour',
      code({ kind: 'recurring', schedule: { days: ['wed'], from: '08:00', to: '10:00' } }),
      {},
      'outside_schedule',
    ],
    [
      'recurring overnight slot from Tuesday',
      code({ kind: 'recurring', schedule: { days: ['tue'], from: '22:00', to: '15:00' } }),
      {},
      'granted',
    ],
    [
      'recurring inside slot but date range over',
      code({
        kind: 'recurring',
        schedule: { days: ['wed'], from: '13:00', to: '15:00' },
        endsAt: NOW - 24 * HOUR,
      }),
      {},
      'expired',
    ],
  ];
  it.each(cases)('%s', (_name, credential, overrides, expected) => {
    expect(result(input(credential, overrides))).toBe(expected);
  });
});

describe('decide: roles and modes', () => {
  const modes: Mode[] = ['normal', 'vacation', 'privacy', 'passage'];
  const expectations: Record<string, Record<Mode, string>> = {
    standard: {
      normal: 'granted',
      vacation: 'mode_restricted',
      privacy: 'mode_restricted',
      passage: 'granted',
    },
    master: { normal: 'granted', vacation: 'granted', privacy: 'granted', passage: 'granted' },
    duress: {
      normal: 'granted+duress',
      vacation: 'mode_restricted',
      privacy: 'mode_restricted',
      passage: 'granted+duress',
    },
    non_access: {
      normal: 'disabled',
      vacation: 'mode_restricted',
      privacy: 'mode_restricted',
      passage: 'disabled',
    },
  };
  for (const [role, byMode] of Object.entries(expectations)) {
    for (const mode of modes) {
      it(`${role} in ${mode} mode -> ${byMode[mode]}`, () => {
        expect(result(input(code({ role: role as Credential['role'] }), { mode }))).toBe(byMode[mode]);
      });
    }
  }
});

describe('decide: lockout and trusted time', () => {
  it('refuses everything during lockout, even a master code', () => {
    expect(result(input(code({ role: 'master' }), { lockedOut: true }))).toBe('lockout');
  });

  it('keeps ongoing codes working on an untrusted clock', () => {
    expect(result(input(code(), { clockTrusted: false }))).toBe('granted');
    expect(result(input(code({ maxUses: 5, uses: 1 }), { clockTrusted: false }))).toBe('granted');
  });

  it('refuses every time-dependent code on an untrusted clock', () => {
    const timeDependent = [
      code({ kind: 'time_bound', startsAt: NOW - HOUR, endsAt: NOW + HOUR }),
      code({ kind: 'recurring', schedule: { days: ['wed'], from: '13:00', to: '15:00' } }),
      code({ kind: 'one_time', startsAt: NOW - HOUR, endsAt: NOW + HOUR }),
      code({ expireAfterFirstUseMin: 10, uses: 1, firstUsedAt: NOW }),
    ];
    for (const c of timeDependent) expect(result(input(c, { clockTrusted: false }))).toBe('clock_untrusted');
  });

  it('names the code in a refusal but never the entry', () => {
    const d = decide(input(code({ enabled: false }), { entry: '98765' }));
    expect(d).toMatchObject({ outcome: 'denied', reason: 'disabled', code: { id: 7, name: 'guest' } });
    expect(JSON.stringify(d)).not.toContain('98765');
  });
});
