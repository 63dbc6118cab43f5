import { DateTime, IANAZone } from 'luxon';
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
  const written = DateTime.fromISO(base, { setZone: true });
  if (!written.isValid) return refuse();
  const ms = written.toMillis();
  if (suffixed) {
    const zone = suffixed[2]!;
    if (!IANAZone.isValidZone(zone)) return refuse(`names an unknown time zone ${JSON.stringify(zone)}`);
    const zoneOffset = DateTime.fromMillis(ms, { zone }).offset;
    if (!NO_LOCAL_OFFSET.test(base) && zoneOffset !== written.offset) {
      return refuse(
        `offset ${written.toFormat('ZZ')} is not ${zone}'s at that instant (${DateTime.fromMillis(ms, { zone }).toFormat('ZZ')})`,
      );
    }
  }
  return { ok: true, ms };
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
