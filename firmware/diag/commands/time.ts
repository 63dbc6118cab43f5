import { DateTime } from 'luxon';
import { checkIsoInstant, writesInstant } from '../../validation.ts';
import { DiagError, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import type { CommandSpec } from '../registry.ts';
import { auditTechnicianAction } from '../technician-action.ts';
import { formatDuration, isoUtc, localDateTime } from '../time-format.ts';

const UNTRUSTED_TEXT: Record<string, string> = {
  rtc_lost_power: 'the RTC lost power (dead battery: its oscillator stopped)',
  rtc_behind_floor: 'the RTC reads earlier than the last trusted time (floor) by more than the tolerance',
};

export const time: CommandSpec = {
  name: 'time',
  usage: 'time',
  summary: 'RTC, trust, floor, last sync, time zone, drift estimate',
  details: [
    'trust UNTRUSTED means codes with a window, schedule or expiry are refused (clock_untrusted)',
    'until a trusted source sets the time: the gateway, or a technician with time set.',
  ],
  async run({ args, ctx, observed }) {
    expectArgs(args, 0, 0, 'time');
    const { firmware, hal, scheduler } = ctx;
    const rtc = await hal.rtc.read();
    const drift = rtc.valid ? observed.drift.observe(rtc.epochMs, scheduler.now()) : undefined;
    const reading = await firmware.manager.refreshClock();
    const record = firmware.clock.snapshot();
    const zone = firmware.manager.getSettings().timezone;
    const trustText = reading.trusted
      ? 'trusted'
      : `UNTRUSTED: ${UNTRUSTED_TEXT[reading.untrustedReason ?? ''] ?? reading.untrustedReason}. Time-dependent codes are refused; login, then time set ISO (or let the gateway sync)`;
    const driftText = !drift
      ? 'unknown (the RTC reading is not valid)'
      : drift.ok
        ? `${drift.ppm >= 0 ? '+' : ''}${drift.ppm.toFixed(1)} ppm ±${drift.uncertaintyPpm.toFixed(1)} (${((drift.ppm * 86_400) / 1e6).toFixed(2)} s/day; RTC against uptime over ${formatDuration(drift.spanMs)})`
        : `not enough data yet (observed ${formatDuration(drift.spanMs)} of 1h since start or the last time set)`;
    return ok(
      [
        `rtc:        ${isoUtc(rtc.epochMs)} (${rtc.valid ? 'valid' : 'LOST POWER'})`,
        `lock time:  ${localDateTime(reading.epochMs, zone)}`,
        `time zone:  ${zone}`,
        `trust:      ${trustText}`,
        `floor:      ${record.floor > 0 ? `${isoUtc(record.floor)} (latest trusted time seen)` : 'none yet'}`,
        `last sync:  ${record.lastSyncAt !== null ? `${isoUtc(record.lastSyncAt)} by ${record.lastSyncSource}` : 'never'}`,
        `drift:      ${driftText}`,
      ],
      {
        rtc: { time: isoUtc(rtc.epochMs), valid: rtc.valid },
        lock_time: isoUtc(reading.epochMs),
        timezone: zone,
        trusted: reading.trusted,
        untrusted_reason: reading.untrustedReason,
        floor: record.floor > 0 ? isoUtc(record.floor) : null,
        last_sync:
          record.lastSyncAt !== null
            ? { at: isoUtc(record.lastSyncAt), source: record.lastSyncSource }
            : null,
        drift: drift?.ok
          ? {
              ppm: Number(drift.ppm.toFixed(2)),
              uncertainty_ppm: Number(drift.uncertaintyPpm.toFixed(2)),
              span_s: Math.floor(drift.spanMs / 1000),
            }
          : null,
      },
    );
  },
};

/** Instants the console accepts for `time set`: a typo of a century is refused. */
const EARLIEST = Date.UTC(2020, 0, 1);
const LATEST = Date.UTC(2100, 0, 1);

/**
 * A wall time in `zone` that names exactly one instant. Setting the clock on a guess is
 * worse than asking: a time the clocks show twice (the night they go back) or skip
 * (the night they go forward) is refused, and the message gives the offsets to write.
 */
function localWallTime(text: string, zone: string, usage: string): number {
  const wall = DateTime.fromISO(text, { zone: 'UTC' });
  if (!wall.isValid) throw new DiagError('bad_argument', usage);
  const asUtc = wall.toMillis();
  const instants = new Set<number>();
  for (const probeHours of [-26, -3, 0, 3, 26]) {
    const offset = DateTime.fromMillis(asUtc + probeHours * 3_600_000, { zone }).offset;
    const ms = asUtc - offset * 60_000;
    if (DateTime.fromMillis(ms, { zone }).offset === offset) instants.add(ms);
  }
  const shown = wall.toFormat("yyyy-MM-dd'T'HH:mm");
  if (instants.size === 0)
    throw new DiagError(
      'bad_argument',
      `${shown} does not exist in ${zone} (the clocks skip it): give the time with an offset`,
    );
  if (instants.size > 1) {
    const offsets = [...instants]
      .sort((a, b) => a - b)
      .map((ms) => `${shown}${DateTime.fromMillis(ms, { zone }).toFormat('ZZ')}`);
    throw new DiagError(
      'bad_argument',
      `${shown} happens twice in ${zone} (the clocks go back): write ${offsets.join(' or ')}`,
    );
  }
  return [...instants][0]!;
}

/** "2025-11-22T14:03:00+01:00", "...Z", or local wall time in the lock's zone ("2025-11-22 14:03"). */
export function parseTechnicianTime(words: string[], zone: string): number {
  const usage = 'time must be ISO-8601, e.g. 2025-11-22T14:03:00+01:00, or lock-local 2025-11-22 14:03';
  if (words.length > 2) throw new DiagError('bad_argument', usage);
  const text = words.join('T');
  let ms: number;
  if (writesInstant(text)) {
    // An offset (or a zone suffix) was written: the one reading of instants applies.
    const instant = checkIsoInstant(text);
    if (!instant.ok) throw new DiagError('bad_argument', `time ${instant.message}`);
    ms = instant.ms;
  } else {
    ms = localWallTime(text, zone, usage);
  }
  if (ms < EARLIEST || ms >= LATEST)
    throw new DiagError('bad_argument', 'time must be between 2020 and 2099');
  return ms;
}

export const timeSet: CommandSpec = {
  name: 'time set',
  usage: 'time set ISO [--backward]',
  summary: 'set the RTC and trust the clock again; audited',
  details: [
    'ISO with an offset (2025-11-22T14:03:00+01:00 or ...Z), or a local time in the lock zone (2025-11-22 14:03).',
    'Take the time from a trusted source (a phone on the mobile network).',
    'Earlier than the latest trusted time by more than the floor tolerance needs --backward;',
    'even then codes that had expired stay expired and used codes stay used.',
  ],
  privileged: true,
  async run(call) {
    const confirmedBackward = call.args.at(-1) === '--backward';
    const words = confirmedBackward ? call.args.slice(0, -1) : call.args;
    expectArgs(words, 1, 2, 'time set ISO [--backward]');
    const { firmware } = call.ctx;
    const zone = firmware.manager.getSettings().timezone;
    const at = parseTechnicianTime(words, zone);
    const actor = `technician:${call.session.technician?.tokenId ?? 'unknown'}`;
    const { verdict, before, after } = await firmware.manager.setTime(at, 'technician', actor, {
      confirmedBackward,
    });
    if (!verdict.ok) {
      const highWater = at - verdict.stepMs;
      throw new DiagError(
        verdict.error,
        `time not set: ${isoUtc(at)} is ${formatDuration(-verdict.stepMs)} before the latest trusted time ${isoUtc(highWater)}; add --backward to set the clock back (codes that expired stay expired)`,
        { time: isoUtc(at), high_water: isoUtc(highWater), step_s: Math.round(verdict.stepMs / 1000) },
      );
    }
    auditTechnicianAction(call, 'time_set', {
      from: isoUtc(before.epochMs),
      to: isoUtc(at),
      was_trusted: before.trusted,
      backward: verdict.backward,
    });
    const backwardText = verdict.backward
      ? `; moved back ${formatDuration(-verdict.stepMs)} from the latest trusted time: codes that had expired stay expired`
      : '';
    return ok(
      `time set to ${localDateTime(at, zone)} (${zone}); clock ${after.trusted ? 'trusted' : 'still UNTRUSTED'}${before.trusted ? '' : ` (was untrusted: ${before.untrustedReason})`}${backwardText}`,
      {
        time: isoUtc(at),
        trusted: after.trusted,
        was_trusted: before.trusted,
        previous: isoUtc(before.epochMs),
        backward: verdict.backward,
      },
    );
  },
};
