import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createProvisioning, deriveDeviceKeys, writeProvisioning } from '../../firmware/provisioning.ts';
import { AuditLog } from '../../firmware/store/audit.ts';
import { DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import { addDevice, advanceAck, getDevice, listEvents, openGatewayDb } from '../../gateway/store.ts';
import type { LocalBroker } from '../support/broker.ts';
import { between, pick } from '../support/random.ts';
import { LockProcess, lockfw } from './lock-process.ts';

export const FAULTS = ['one_time', 'apply', 'outbox', 'broker', 'rtc'] as const;
export type Fault = (typeof FAULTS)[number];

export interface RunReport {
  run: number;
  kills: number;
  faults: Record<Fault, number>;
  events: number;
  violations: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CODES_PER_DOCUMENT = 100;

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(50);
  }
  return condition();
}

/**
 * One campaign run: a real lockfw on the sim HAL, a real broker, an in-process gateway,
 * and `steps` faults drawn from `random`. Then the invariants are checked on the files.
 */
export async function chaosRun(
  run: number,
  steps: number,
  random: () => number,
  broker: LocalBroker,
  faults: readonly Fault[] = FAULTS,
): Promise<RunReport> {
  const dir = mkdtempSync(join(tmpdir(), 'tumbler-chaos-'));
  const dataDir = join(dir, 'lock');
  const deviceId = `chaos${run}`;
  const record = createProvisioning(deviceId);
  writeProvisioning(join(dir, 'p.json'), record);
  const gatewayDb = await openGatewayDb(join(dir, 'gateway.db'));
  await addDevice(gatewayDb, deviceId, record.secret);
  const channel = new DeviceChannel(await getDevice(gatewayDb, deviceId));
  const gateway = await GatewayClient.connect({ url: broker.url });
  let deliveries = 0;
  const gatewayLog: string[] = [];
  const note = (line: string) => gatewayLog.push(`${new Date().toISOString()} ${line}`);
  for (const name of ['connect', 'close', 'offline', 'reconnect'] as const)
    gateway.mqtt.on(name, () => note(name));
  gateway.mqtt.on('error', (error) => note(`error ${error.message}`));
  await new GatewayService(
    gateway,
    gatewayDb,
    { onEvent: () => deliveries++, onWarning: (message) => note(`warning ${message}`) },
    deviceId,
  ).start();
  // Wrong entries are part of the traffic; the lockout must not hide the one_time checks.
  const lock = new LockProcess(
    dataDir,
    ['--provisioning', join(dir, 'p.json'), '--mqtt', broker.url, '--log-level', 'info'],
    {
      LOCKFW_WRONG_CODE_LIMIT: '100',
      LOCKFW_DAILY_FAILURE_LIMIT: '10000',
    },
  );
  const report: RunReport = {
    run,
    kills: 0,
    faults: { one_time: 0, apply: 0, outbox: 0, broker: 0, rtc: 0 },
    events: 0,
    violations: [],
  };
  const oneTimeNames: string[] = [];
  let revision = 0;
  let pinCounter = 0;
  const nextPin = () => String(100000 + run * 1000 + pinCounter++);
  const press = (keys: string) => lock.client?.request('press', { keys }).catch(() => undefined);
  const cut = async (maxDelayMs: number) => {
    await sleep(between(random, 0, maxDelayMs));
    await lock.kill('SIGKILL');
    report.kills++;
    await lock.start();
  };
  try {
    await lock.start();
    for (let step = 0; step < steps; step++) {
      const fault = pick(random, faults);
      report.faults[fault]++;
      switch (fault) {
        case 'one_time': {
          const pin = nextPin();
          const name = `ot-${step}`;
          await lockfw([
            'codes',
            'add',
            '--data',
            dataDir,
            '--name',
            name,
            '--pin',
            pin,
            '--kind',
            'one_time',
          ]);
          oneTimeNames.push(name);
          await press(`${pin}#`);
          await cut(40);
          await press(`${pin}#`); // a second try after the cut must never open
          break;
        }
        case 'apply': {
          revision++;
          const codes = Array.from({ length: CODES_PER_DOCUMENT }, (_, i) => ({
            ref: `c${i}`,
            name: `rev${revision}-${i}`,
            pin: String(1_000_000 + revision * 1000 + i),
          }));
          const doc = channel.sign('desired_codes', { revision, issued_at: new Date().toISOString(), codes });
          await gateway.mqtt.publishAsync(channel.topics.desiredCodes, JSON.stringify(doc), {
            qos: 1,
            retain: true,
          });
          await cut(150);
          break;
        }
        case 'outbox': {
          for (let i = 0; i < 10; i++) await press(`${nextPin()}#`);
          await cut(60);
          break;
        }
        case 'broker': {
          await broker.stop('SIGKILL');
          for (let i = 0; i < 5; i++) await press(`${nextPin()}#`);
          await sleep(between(random, 50, 300));
          await broker.resume();
          break;
        }
        case 'rtc': {
          await lock.client?.request('rtc_lost').catch(() => undefined);
          await press(`${nextPin()}#`);
          await lock.client?.request('sync_time').catch(() => undefined);
          break;
        }
      }
    }
    // Quiet: broker up, lock up; wait until every event is delivered and acknowledged.
    await broker.resume();
    const db = new Database(join(dataDir, 'lock.db'), { readonly: true });
    try {
      db.pragma('busy_timeout = 5000');
      // The outbox is the audit rows after the ack point (firmware/store/outbox.ts).
      const outboxDepth = () =>
        (
          db
            .prepare(
              'SELECT COUNT(*) AS n FROM audit WHERE seq > (SELECT acked_seq FROM audit_chain WHERE id = 1)',
            )
            .get() as { n: number }
        ).n;
      const lastSeq = () =>
        (db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM audit').get() as { n: number }).n;
      const drained = await waitFor(
        async () => outboxDepth() === 0 && (await advanceAck(gatewayDb, deviceId)).seq === lastSeq(),
        60_000,
      );
      if (!drained)
        report.violations.push(
          `run ${run}: outbox not drained (${outboxDepth()} left, lock seq ${lastSeq()}, gateway ack ${(await advanceAck(gatewayDb, deviceId)).seq})`,
        );
      await lock.kill('SIGTERM');
      checkLock(db, deriveDeviceKeys(record.secret).audit, report, oneTimeNames);
      const auditSeqs = (
        db.prepare('SELECT seq FROM audit ORDER BY seq').all() as Array<{ seq: number }>
      ).map((r) => r.seq);
      const gatewaySeqs = (await listEvents(gatewayDb, deviceId, 0, 1_000_000)).map((e) => e.seq);
      report.events = auditSeqs.length;
      // An event written after the drain (a time sync finishing at connect) may still be
      // queued when the lock stops: it is not lost while the lock's outbox holds it.
      const queued = new Set(
        (
          db
            .prepare('SELECT seq FROM audit WHERE seq > (SELECT acked_seq FROM audit_chain WHERE id = 1)')
            .all() as Array<{ seq: number }>
        ).map((r) => r.seq),
      );
      const missing = auditSeqs.filter((seq) => !gatewaySeqs.includes(seq) && !queued.has(seq));
      if (missing.length)
        report.violations.push(
          `run ${run}: ${missing.length} events lost: neither at the gateway nor queued on the lock (first seq ${missing[0]})`,
        );
      if (deliveries !== gatewaySeqs.length) {
        report.violations.push(
          `run ${run}: gateway application saw ${deliveries} deliveries for ${gatewaySeqs.length} events (duplicates)`,
        );
      }
    } finally {
      db.close();
    }
  } catch (error) {
    report.violations.push(`run ${run}: campaign error: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    await lock.kill('SIGKILL');
    await gateway.close();
    await gatewayDb.close();
    if (report.violations.length === 0) rmSync(dir, { recursive: true, force: true });
    else {
      writeFileSync(join(dir, 'lockfw.log'), lock.log());
      writeFileSync(join(dir, 'broker.log'), broker.output());
      writeFileSync(join(dir, 'gateway.log'), gatewayLog.join('\n'));
      report.violations.push(`run ${run}: files kept in ${dir} (lockfw.log: the last lockfw's output)`);
    }
  }
  return report;
}

/** The invariants on the lock's own files. */
function checkLock(
  db: Database.Database,
  auditKey: Uint8Array,
  report: RunReport,
  oneTimeNames: string[],
): void {
  const integrity = db.pragma('integrity_check', { simple: true });
  if (integrity !== 'ok') report.violations.push(`run ${report.run}: integrity_check: ${String(integrity)}`);
  const chain = new AuditLog(db, auditKey).verify();
  if (!chain.ok)
    report.violations.push(
      `run ${report.run}: audit chain broken at ${chain.firstBrokenSeq}: ${chain.problem}`,
    );
  const grants = db
    .prepare(
      "SELECT json_extract(data, '$.code_name') AS name, COUNT(*) AS n FROM audit WHERE type = 'decision' AND json_extract(data, '$.outcome') = 'granted' GROUP BY name",
    )
    .all() as Array<{ name: string; n: number }>;
  for (const { name, n } of grants) {
    if (oneTimeNames.includes(name) && n > 1)
      report.violations.push(`run ${report.run}: one_time code ${name} granted ${n} times`);
  }
  const gatewayCodes = (
    db.prepare("SELECT name FROM codes WHERE source = 'gateway'").all() as Array<{ name: string }>
  ).map((r) => r.name);
  const applied = new Set(gatewayCodes.map((name) => name.split('-')[0]));
  if (applied.size > 1 || (gatewayCodes.length !== 0 && gatewayCodes.length !== CODES_PER_DOCUMENT)) {
    report.violations.push(
      `run ${report.run}: desired/codes half applied: ${gatewayCodes.length} codes from ${[...applied].join(', ')}`,
    );
  }
}
