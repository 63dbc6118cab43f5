import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProvisioning, writeProvisioning } from '../../firmware/provisioning.ts';
import { DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { addDevice, getDevice, openGatewayDb } from '../../gateway/store.ts';
import { type LockfwProcess, runLockfw, spawnLockfw } from '../helpers/lockfw-process.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

let broker: TestBroker;
const running: LockfwProcess[] = [];
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});
afterEach(() => {
  for (const proc of running.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});

const codes = (revision: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    ref: `r${revision}-${i}`,
    name: `guest ${revision}/${i}`,
    pin: String(100000 + revision * 10000 + i),
  }));

async function listCodes(dataDir: string): Promise<Array<{ name: string }>> {
  const out = await runLockfw(['codes', 'list', '--data', dataDir, '--json']);
  return JSON.parse(out.stdout) as Array<{ name: string }>;
}

describe('power cut while applying desired/codes', () => {
  it('leaves either the old or the new revision complete, never half', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'lock');
    const record = createProvisioning('cutlock');
    writeProvisioning(join(dir, 'p.json'), record);
    const db = await openGatewayDb(join(dir, 'gw.db'));
    await addDevice(db, 'cutlock', record.secret);
    const channel = new DeviceChannel(await getDevice(db, 'cutlock'));
    const gateway = await GatewayClient.connect({ url: broker.url });
    const start = () => {
      const proc = spawnLockfw([
        'run',
        '--hal',
        'sim',
        '--data',
        dataDir,
        '--init',
        '--provisioning',
        join(dir, 'p.json'),
        '--mqtt',
        broker.url,
      ]);
      running.push(proc);
      return proc;
    };
    const push = (revision: number) =>
      gateway.mqtt.publishAsync(
        channel.topics.desiredCodes,
        JSON.stringify(
          channel.sign('desired_codes', {
            revision,
            issued_at: new Date().toISOString(),
            codes: codes(revision, 1000),
          }),
        ),
        { qos: 1, retain: true },
      );
    try {
      let proc = start();
      await push(1);
      await waitUntil(() => proc.output().includes('desired/codes applied'), 20_000, 'revision 1 applied');
      proc.child.kill('SIGKILL');
      await proc.exited;
      expect(await listCodes(dataDir)).toHaveLength(1000);

      const outcomes: number[] = [];
      for (const [i, delayMs] of [5, 30, 60, 120].entries()) {
        const revision = i + 2;
        proc = start();
        await waitUntil(() => proc.output().includes('mqtt connected'), 20_000, 'the lock to connect');
        await push(revision);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        proc.child.kill('SIGKILL');
        await proc.exited;
        const names = (await listCodes(dataDir)).map((c) => c.name);
        expect(names).toHaveLength(1000);
        const revisions = new Set(names.map((n) => n.split(' ')[1]!.split('/')[0]));
        expect(revisions.size).toBe(1); // one revision, complete
        outcomes.push(Number([...revisions][0]));
      }
      const verify = await runLockfw(['audit', 'verify', '--data', dataDir]);
      expect(verify.status).toBe(0);
      // After a final clean boot the newest revision is applied from the retained document.
      proc = start();
      await waitUntil(
        async () => (await listCodes(dataDir)).every((c) => c.name.startsWith('guest 5/')),
        20_000,
        'revision 5',
      );
      // What survived each cut only ever moves forward, and never past what was pushed.
      expect(outcomes.every((r, i) => r <= i + 2 && (i === 0 || r >= outcomes[i - 1]!))).toBe(true);
      console.log('revisions that survived each cut:', outcomes.join(', '));
    } finally {
      await gateway.close();
      await db.close();
    }
  }, 90_000);
});
