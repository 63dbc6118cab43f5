import { Duration } from 'luxon';

/**
 * A duration flag in milliseconds: `500ms`, `30s`, `2m`, `1h`, combinations such as
 * `1m30s`, or ISO-8601 (`PT30S`, `PT2M`). Undefined when the text is none of these.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^P/i.test(trimmed)) {
    const iso = Duration.fromISO(trimmed.toUpperCase());
    if (!iso.isValid) return undefined;
    const ms = iso.as('milliseconds');
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match; match = part.exec(trimmed)) {
    total += Number(match[1]) * unit[match[2] as keyof typeof unit];
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length || total <= 0) return undefined;
  return total;
}
