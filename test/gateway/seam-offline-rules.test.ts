import { describe, expect, it } from 'vitest';
import { SeamInputError } from '../../gateway/seam/errors.ts';
import { issueSeamOfflineCode, type OfflineCodeAsk } from '../../gateway/seam/offline-codes.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const device = { deviceId: 'door1', secret: new Uint8Array(32).fill(7) };
const now = Date.parse('2026-06-01T00:00:00Z');
const ask = (startsAt: string, endsAt: string, roundingMs = HOUR): OfflineCodeAsk => ({
  startsAt: Date.parse(startsAt),
  endsAt: Date.parse(endsAt),
  isOneTimeUse: false,
  roundingMs,
});
const params = (timezone: string) => ({ key_version: 1, length: 12, timezone });
const never = () => false;

describe('which offline code the Seam API issues', () => {
  it('issues version 1 when it is as close as version 2', () => {
    const issued = issueSeamOfflineCode(
      device,
      params('Europe/Berlin'),
      ask('2026-06-12T13:00Z', '2026-06-15T09:00Z'),
      never,
      now,
    );
    expect(issued).toMatchObject({ version: 1, kind: 'hourly', length: 12 });
  });

  it('issues a version 2 daily code with check-in and check-out for a 15:00 to 11:00 stay at 1-day rounding', () => {
    const issued = issueSeamOfflineCode(
      device,
      params('Europe/Berlin'),
      ask('2026-06-12T13:00Z', '2026-06-15T09:00Z', DAY),
      never,
      now,
    );
    expect(issued).toMatchObject({
      version: 2,
      kind: 'daily',
      validFrom: Date.parse('2026-06-12T13:00Z'),
      validUntil: Date.parse('2026-06-15T09:00Z'),
    });
    expect(issued.code).toMatch(/^\d{15}$/);
  });

  it('issues version 2 hourly for a start on the local hour of a half-hour zone', () => {
    // 15:00 to 18:00 in Kolkata is 09:30Z to 12:30Z: version 1 would move both edges 30 min.
    const issued = issueSeamOfflineCode(
      device,
      params('Asia/Kolkata'),
      ask('2026-06-12T09:30Z', '2026-06-12T12:30Z'),
      never,
      now,
    );
    expect(issued).toMatchObject({
      version: 2,
      kind: 'hourly',
      validFrom: Date.parse('2026-06-12T09:30Z'),
      validUntil: Date.parse('2026-06-12T12:30Z'),
    });
  });

  it('gives a slot asked again the next variant, then refuses naming starts_at', () => {
    const given = new Set<string>();
    const slot = ask('2026-06-12T13:00Z', '2026-06-15T09:00Z');
    const issue = () => {
      const issued = issueSeamOfflineCode(device, params('UTC'), slot, (f) => given.has(f), now);
      given.add(issued.fingerprint);
      return issued;
    };
    expect([issue(), issue(), issue(), issue()].map((c) => [c.version, c.variant])).toEqual([
      [1, 0],
      [2, 0],
      [2, 1],
      [2, 2],
    ]);
    expect(given.size).toBe(4);
    expect(issue).toThrow(SeamInputError);
    expect(issue).toThrow(/^starts_at: no distinct offline code left/);
  });
});
