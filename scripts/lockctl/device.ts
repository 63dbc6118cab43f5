import { parseFlags, requireFlag, UsageError } from '../../firmware/cli.ts';
import { readProvisioning } from '../../firmware/provisioning.ts';
import { addDevice, type DeviceInfo, deviceInfo, listDevices, openGatewayDb } from '../../gateway/store.ts';
import { GATEWAY_FLAGS, gatewayDbPath, print } from './common.ts';

export const DEVICE_HELP = `Usage: lockctl device <add|list> [options]

  lockctl device add --provisioning FILE [--db FILE|URL]
      registers a lock with this gateway (its id and device secret, from the file
      lockctl provision made); lockctl provision --db does this too
  lockctl device list [--db FILE|URL] [--json]
      each registered lock with the incarnation of its data this gateway follows and
      its note, if any (the lock was reset: wiped and provisioned again; its event chain
      broke)`;

export async function deviceCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const command = `lockctl device ${sub ?? ''}`.trim();
  const { values } = parseFlags(command, rest, { ...GATEWAY_FLAGS, provisioning: { type: 'string' } });
  if (!sub || values.help) {
    process.stdout.write(`${DEVICE_HELP}\n`);
    return sub ? 0 : 2;
  }
  const db = await openGatewayDb(gatewayDbPath(values));
  try {
    if (sub === 'add') {
      const record = readProvisioning(requireFlag(command, values.provisioning, '--provisioning', 'FILE'));
      await addDevice(db, record.deviceId, record.secret);
      print(values.json, { ok: true, deviceId: record.deviceId }, `registered device ${record.deviceId}`);
      return 0;
    }
    if (sub === 'list') {
      const devices: DeviceInfo[] = [];
      for (const id of await listDevices(db)) devices.push(await deviceInfo(db, id));
      const line = (d: DeviceInfo) =>
        [
          d.deviceId,
          ...(d.incarnation ? [`incarnation ${d.incarnation}`] : []),
          ...(d.note ? [`note (${new Date(d.noteAt ?? 0).toISOString()}): ${d.note}`] : []),
        ].join('  ');
      print(values.json, devices, devices.length ? devices.map(line).join('\n') : 'no devices');
      return 0;
    }
    throw new UsageError(`lockctl device: unknown subcommand ${JSON.stringify(sub)}; expected add or list`);
  } finally {
    await db.close();
  }
}
