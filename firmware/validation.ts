import { DateTime, FixedOffsetZone, IANAZone } from 'luxon';
import { z } from 'zod';

/** One line naming each bad field and what it must be: "codes[0].pin: must be 4 to 10 digits". */
export function describeZodError(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((part, index) =>
          typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`,
        )
        .join('');
      const where = [prefix, path].filter(Boolean).join(path.startsWith('[') ? '' : '.');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

export const ISO_INSTANT_RULE =
  'must be an ISO-8601 instant with an offset, e.g. 2026-12-01T15:00:00+01:00 or ...Z';

const WRITTEN_OFFSET = /(?:[zZ]|[+-]\d\d:?\d\d)$/;
/** "Z" and "-00:00" state the instant but no local offset (RFC 9557). */
const NO_LOCAL_OFFSET = /(?:[zZ]|-00:?00)$/;
/** An RFC 9557 time zone suffix, optionally critical: "[Europe/Zurich]", "[!Europe/Zurich]". */
const ZONE_SUFFIX = /^([^[\]]+)\[!?([A-Za-z0-9_+\-/]+)\]$/;

export type IsoInstantResult = { ok: true; ms: number } | { ok: false; message: string };

/**
 * The one reading of an instant written as text, wherever one comes in (codes, desired
 * documents, commands, provisioning files, the console, scenarios). The written offset
 * decides the instant; an RFC 9557 time zone suffix is accepted only where that offset
 * is the zone's own at that instant ("Z" states no local offset, so any zone fits).
 * Other suffixes ("[u-ca=...]") and text without an offset are refused.
 */
export function checkIsoInstant(text: unknown): IsoInstantResult {
  const refuse = (message = ISO_INSTANT_RULE): IsoInstantResult => ({ ok: false, message });
  if (typeof text !== 'string' || text.length > 100) return refuse();
  const suffixed = text.includes('[') ? ZONE_SUFFIX.exec(text) : null;
  if (text.includes('[') && !suffixed)
    return refuse(`${ISO_INSTANT_RULE}; a suffix may only name a time zone`);
  const base = suffixed ? suffixed[1]! : text;
  if (!WRITTEN_OFFSET.test(base)) return refuse();
  const written = readStrictInstant(base) ?? readInstantWithLuxon(base);
  if (!written) return refuse();
  const { ms } = written;
  if (suffixed) {
    const zone = suffixed[2]!;
    if (!IANAZone.isValidZone(zone)) return refuse(`names an unknown time zone ${JSON.stringify(zone)}`);
    const zoneOffset = DateTime.fromMillis(ms, { zone }).offset;
    if (!NO_LOCAL_OFFSET.test(base) && zoneOffset !== written.offset) {
      const writtenOffset = DateTime.fromMillis(ms, { zone: FixedOffsetZone.instance(written.offset) });
      return refuse(
        `offset ${writtenOffset.toFormat('ZZ')} is not ${zone}'s at that instant (${DateTime.fromMillis(ms, { zone }).toFormat('ZZ')})`,
      );
    }
  }
  return { ok: true, ms };
}

/** An instant as written: epoch ms and the written offset in minutes. */
export interface WrittenInstant {
  ms: number;
  offset: number;
}

/** luxon's ISO reader: every form ISO 8601 allows (week dates, ordinal dates, basic format...). */
export function readInstantWithLuxon(text: string): WrittenInstant | undefined {
  const written = DateTime.fromISO(text, { setZone: true });
  return written.isValid ? { ms: written.toMillis(), offset: written.offset } : undefined;
}

/** The form gateways and this lock write: 2026-12-01T15:00:00Z, ...T15:00:00.250+01:00. */
const STRICT_INSTANT =
  /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?(?:Z|([+-])(\d\d):(\d\d))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A fast reading of the strict form (a desired/codes document holds thousands of them),
 * giving exactly what readInstantWithLuxon gives; undefined for anything else (another
 * form, a year before 1000, hour 24, a day the month lacks, an offset past 23:59), which
 * the caller then reads with luxon, so that luxon decides every case this one does not
 * cover (test/firmware/iso-instant.test.ts compares the two).
 */
export function readStrictInstant(text: string): WrittenInstant | undefined {
  const m = STRICT_INSTANT.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 1000 || month < 1 || month > 12 || day < 1) return undefined;
  if (day > DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (m[8] !== undefined) {
    const offsetHours = Number(m[9]);
    const offsetMinutes = Number(m[10]);
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offset = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) || 0;
  }
  // luxon's reading of a fraction of a second, to the same millisecond.
  const millis = m[7] === undefined ? 0 : Math.floor(Number.parseFloat(`0.${m[7]}`) * 1000);
  return { ms: Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000, offset };
}

/** Epoch ms of an ISO instant read by checkIsoInstant, or undefined. */
export function parseIsoInstant(text: unknown): number | undefined {
  const result = checkIsoInstant(text);
  return result.ok ? result.ms : undefined;
}

/** Whether text writes an instant (an offset or a zone suffix) rather than a local time. */
export function writesInstant(text: string): boolean {
  return text.includes('[') || WRITTEN_OFFSET.test(text);
}

/** A string field holding an ISO instant (checked by checkIsoInstant). */
export const isoInstantSchema = z.string().superRefine((text, ctx) => {
  const result = checkIsoInstant(text);
  if (!result.ok) ctx.addIssue({ code: 'custom', message: result.message });
});
