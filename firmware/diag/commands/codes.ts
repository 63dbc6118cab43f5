import { DateTime } from 'luxon';
import { dstGapWarning } from '../../access/dst-gap.ts';
import { withinSchedule } from '../../access/schedule.ts';
import { describeCode } from '../../commands/codes.ts';
import { listOfflineCodes } from '../../offline-path.ts';
import type { CodeRecord } from '../../store/codes.ts';
import { DiagError, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import type { CommandSpec } from '../registry.ts';
import { auditTechnicianAction } from '../technician-action.ts';

function localMinute(ms: number | null, zone: string): string {
  return ms === null ? '-' : DateTime.fromMillis(ms, { zone }).toFormat('yyyy-LL-dd HH:mm');
}

function windowText(code: CodeRecord, schedule: string | null, zone: string, inSlot: boolean | null): string {
  if (schedule)
    return `${schedule}${inSlot === null ? '' : inSlot ? ' (in its slot now)' : ' (outside its slot now)'}`;
  if (code.startsAt !== null || code.endsAt !== null)
    return `${localMinute(code.startsAt, zone)} .. ${localMinute(code.endsAt, zone)} ${zone}`;
  if (code.expireAfterFirstUseMin !== null)
    return `expires ${code.expireAfterFirstUseMin} min after first use`;
  return '';
}

export const codes: CommandSpec = {
  name: 'codes',
  usage: 'codes',
  summary: 'codes: name, kind, window, status, uses (never PINs)',
  details: [
    'status: active, pending (window not begun), expired, used_up, disabled, unassigned (backup pool).',
    'Recurring codes say whether the lock time is inside their weekly slot now.',
  ],
  run({ args, ctx }) {
    expectArgs(args, 0, 0, 'codes');
    const { firmware } = ctx;
    const now = firmware.manager.wallNow();
    const zone = firmware.manager.getSettings().timezone;
    const trusted = firmware.manager.status().clockTrusted;
    const rows = firmware.codes.list().map((code) => {
      const described = describeCode(code, now, zone);
      const inSlot = code.schedule && trusted ? withinSchedule(code.schedule, now, zone) : null;
      const warning = dstGapWarning(code, zone, now);
      return {
        code,
        described: { ...described, in_slot: inSlot, ...(warning ? { warning } : {}) },
        window: windowText(code, described.schedule, zone, inSlot),
      };
    });
    const offline = listOfflineCodes(firmware, now);
    const lines =
      rows.length === 0
        ? ['no codes']
        : [
            `${'id'.padStart(4)}  ${'name'.padEnd(20)} ${'kind'.padEnd(10)} ${'role'.padEnd(10)} ${'status'.padEnd(10)} ${'uses'.padEnd(7)} window`,
            ...rows.map(({ described: d, window }) => {
              const uses = d.max_uses !== null ? `${d.uses}/${d.max_uses}` : String(d.uses);
              return `${String(d.id).padStart(4)}  ${d.name.padEnd(20)} ${d.kind.padEnd(10)} ${d.role.padEnd(10)} ${d.status.padEnd(10)} ${uses.padEnd(7)} ${window}`;
            }),
          ];
    for (const { code, described } of rows)
      if (described.warning) lines.push(`warning: code ${code.id} "${code.name}": ${described.warning}`);
    lines.push(
      `offline codes: key version ${offline.keyVersion}; ${offline.active.length} in use, ${offline.revoked.length} revoked`,
    );
    if (!trusted)
      lines.push('clock UNTRUSTED: codes with a window, schedule or expiry are refused as clock_untrusted');
    return ok(lines, {
      codes: rows.map((row) => row.described),
      offline: {
        key_version: offline.keyVersion,
        in_use: offline.active.map((code) => ({
          fingerprint: code.fingerprint,
          kind: code.kind,
          uses: code.uses,
          ends_at: code.endsAt === null ? null : new Date(code.endsAt).toISOString(),
        })),
        revoked: offline.revoked.length,
      },
      clock_trusted: trusted,
    });
  },
};

export const codesDisable: CommandSpec = {
  name: 'codes disable',
  usage: 'codes disable ID',
  summary: 'switch a code off (a guest code that leaked); audited',
  privileged: true,
  run(call) {
    expectArgs(call.args, 1, 1, 'codes disable ID');
    const text = call.args[0]!;
    if (!/^\d{1,9}$/.test(text) || Number(text) < 1)
      throw new DiagError('bad_argument', 'ID must be a code id from the codes list');
    const id = Number(text);
    const { firmware } = call.ctx;
    const result = firmware.admin.setEnabled(id, false, 'technician', firmware.manager.wallNow());
    if (!result.ok) throw new DiagError(result.error, result.message);
    const { code } = result;
    auditTechnicianAction(call, 'codes_disable', { code_id: id });
    return ok(`disabled code ${code.id} "${code.name}"`, {
      id: code.id,
      name: code.name,
      enabled: code.enabled,
    });
  },
};
