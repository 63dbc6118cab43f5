import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseFlags, requireFlag, UsageError } from '../../firmware/cli.ts';
import { TumblerError } from '../../firmware/errors.ts';
import { encryptPin, pinKey } from '../../firmware/sync/pin-crypto.ts';
import { takeRevision } from '../../gateway/store.ts';
import { GATEWAY_FLAGS, GATEWAY_FLAGS_HELP, print, timeoutMs, withGateway } from './common.ts';

export const CODES_HELP = `Usage: lockctl codes <push|status> --device ID [options]

  lockctl codes push --device ID --file codes.json [--encrypt-pins] [--no-wait]
      declares the full set of codes the gateway manages on the lock: a signed,
      retained desired/codes document with the next revision. The lock applies it
      atomically and reports a status per code, which this prints.
      codes.json: an array (or {"codes": [...]}) of codes with a "ref" each:
        [{"ref": "guest-42", "name": "guest", "pin": "2468", "kind": "time_bound",
          "starts_at": "2026-12-01T15:00:00+01:00", "ends_at": "2026-12-05T11:00:00+01:00"}]
      --encrypt-pins seals each PIN to the lock's key (AES-256-GCM), so the broker never
      sees one.
  lockctl codes status --device ID
      the lock's retained reported/codes: applied revision, status per code

${GATEWAY_FLAGS_HELP}`;

const reportSchema = z
  .object({
    revision: z.number(),
    applied_at: z.string().nullable(),
    codes: z.array(z.record(z.string(), z.unknown())),
  })
  .passthrough();
type Report = z.infer<typeof reportSchema>;

function readCodesFile(command: string, path: string): Array<Record<string, unknown>> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `${command}: --file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'not valid JSON'}`,
    );
  }
  const codes = Array.isArray(json) ? json : (json as { codes?: unknown })?.codes;
  if (
    !Array.isArray(codes) ||
    !codes.every((c) => typeof c === 'object' && c !== null && typeof c.ref === 'string')
  ) {
    throw new UsageError(`${command}: --file ${path} must hold an array of codes, each with a string "ref"`);
  }
  return codes as Array<Record<string, unknown>>;
}

function formatReport(report: Report): string {
  const lines = [`revision ${report.revision} applied ${report.applied_at ?? '-'}`];
  for (const code of report.codes) {
    const error = code.status === 'error' ? `  ${code.error}: ${code.message}` : '';
    lines.push(
      `  ${String(code.ref).padEnd(20)} ${String(code.name ?? '').padEnd(20)} ${code.status}${error}`,
    );
  }
  const lastError = (report as { last_error?: { error: string; message: string } }).last_error;
  if (lastError) lines.push(`last refused document: ${lastError.error}: ${lastError.message}`);
  return lines.join('\n');
}

export async function codesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const command = `lockctl codes ${sub ?? ''}`.trim();
  const { values } = parseFlags(command, rest, {
    ...GATEWAY_FLAGS,
    file: { type: 'string' },
    'encrypt-pins': { type: 'boolean' },
    'no-wait': { type: 'boolean' },
  });
  if (!sub || values.help) {
    process.stdout.write(`${CODES_HELP}\n`);
    return sub ? 0 : 2;
  }
  if (sub !== 'push' && sub !== 'status') {
    throw new UsageError(`lockctl codes: unknown subcommand ${JSON.stringify(sub)}; expected push or status`);
  }
  const wait = timeoutMs(command, values);
  const codes =
    sub === 'push' ? readCodesFile(command, requireFlag(command, values.file, '--file', 'codes.json')) : [];
  return withGateway(command, values, async ({ db, client, channel, deviceId }) => {
    const retained = (minRevision: number) =>
      client.waitFor(channel.topics.reportedCodes, wait, (payload) => {
        const report = channel.open('reported_codes', payload, reportSchema);
        return report && report.revision >= minRevision ? report : undefined;
      });
    if (sub === 'status') {
      const report = retained(0);
      await client.mqtt.subscribeAsync(channel.topics.reportedCodes, { qos: 1 });
      const value = await report;
      print(values.json, value, formatReport(value));
      return 0;
    }
    // The next revision must beat what the lock has applied, even if another gateway pushed.
    const current = retained(0).catch(() => undefined);
    await client.mqtt.subscribeAsync(channel.topics.reportedCodes, { qos: 1 });
    const noAnswer = new Promise<undefined>((resolve) =>
      setTimeout(() => resolve(undefined), Math.min(wait, 1500)),
    );
    const applied = (await Promise.race([current, noAnswer]))?.revision ?? 0;
    const revision = await takeRevision(db, deviceId, applied);
    const key = values['encrypt-pins'] ? pinKey(channel.device.secret) : undefined;
    const entries = codes.map((code) => {
      if (!key || typeof code.pin !== 'string') return code;
      const { pin, ...rest } = code;
      return { ...rest, pin_enc: encryptPin(key, deviceId, String(code.ref), pin) };
    });
    const doc = channel.sign('desired_codes', {
      revision,
      issued_at: new Date().toISOString(),
      codes: entries,
    });
    const answer = retained(revision);
    await client.mqtt.publishAsync(channel.topics.desiredCodes, JSON.stringify(doc), {
      qos: 1,
      retain: true,
    });
    if (values['no-wait']) {
      answer.catch(() => undefined);
      print(values.json, { ok: true, revision }, `pushed revision ${revision} (${codes.length} codes)`);
      return 0;
    }
    let report: Report;
    try {
      report = await answer;
    } catch {
      throw new TumblerError(
        'timeout',
        `pushed revision ${revision}; the lock has not reported it yet (it applies it when it is online)`,
      );
    }
    print(values.json, report, formatReport(report));
    return report.codes.some((c) => c.status === 'error') ? 1 : 0;
  });
}
