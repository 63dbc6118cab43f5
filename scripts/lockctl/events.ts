import { parseFlags, UsageError } from '../../firmware/cli.ts';
import { safeJson, safeText } from '../../firmware/safe-text.ts';
import { GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import {
  deviceInfo,
  listEvents,
  listIncarnations,
  openGatewayDb,
  type StoredEvent,
} from '../../gateway/store.ts';
import { brokerOptions, GATEWAY_FLAGS, GATEWAY_FLAGS_HELP, gatewayDbPath } from './common.ts';

export const EVENTS_HELP = `Usage: lockctl events [--device ID] [--follow] [--after SEQ] [--json]

Without --follow: prints the events this gateway has stored (one device, or all), each
incarnation of a lock in turn (a lock whose data was wiped and provisioned again is a
new incarnation: its seqs start again), and any note on the device (a reset, a broken
event chain) on stderr.
With --follow: runs the gateway's side of the protocol until interrupted: stores each
lock event once (duplicates from resends are dropped), acknowledges them cumulatively
so the lock can delete them, answers the locks' time requests, records their reported
code status, and prints each event in seq order once it holds every one before it;
warnings (a lock reset, a broken chain) go to stderr.

${GATEWAY_FLAGS_HELP}`;

function format(event: StoredEvent): string {
  const data = Object.entries(event.data)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const flag = event.chainBreak ? ' CHAIN-BREAK' : '';
  return `${event.deviceId} #${event.seq} ${event.at} ${event.type} ${data}${flag}`;
}

export async function eventsCommand(argv: string[]): Promise<number> {
  const command = 'lockctl events';
  const { values, positionals } = parseFlags(command, argv, {
    ...GATEWAY_FLAGS,
    follow: { type: 'boolean' },
    after: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(`${EVENTS_HELP}\n`);
    return 0;
  }
  if (positionals.length)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const after = values.after === undefined ? 0 : Number(values.after);
  if (!Number.isInteger(after) || after < 0)
    throw new UsageError(`${command}: --after must be a whole number`);
  const db = await openGatewayDb(gatewayDbPath(values));
  const show = (event: StoredEvent) =>
    // Names in events come from a lock's store: printed, never acted on by the terminal.
    process.stdout.write(`${values.json ? safeJson(event) : safeText(format(event))}\n`);
  try {
    if (!values.follow) {
      const devices = values.device
        ? [values.device]
        : (
            await db.all<{ device_id: string }>('SELECT DISTINCT device_id FROM events ORDER BY device_id')
          ).map((r) => r.device_id);
      for (const device of devices) {
        const { note } = await deviceInfo(db, device);
        if (note) process.stderr.write(`lockctl events: ${device}: ${note}\n`);
        const incarnations = await listIncarnations(db, device);
        for (const incarnation of incarnations) {
          if (incarnations.length > 1 && !values.json)
            process.stdout.write(`${device} incarnation ${incarnation || '(before incarnations)'}\n`);
          for (const event of await listEvents(db, device, after, 100_000, incarnation)) show(event);
        }
      }
      return 0;
    }
    const client = await GatewayClient.connect(brokerOptions(command, values));
    const service = new GatewayService(
      client,
      db,
      { onEvent: show, onWarning: (message) => process.stderr.write(`lockctl events: ${message}\n`) },
      values.device ?? '+',
    );
    await service.start();
    process.stderr.write(
      `lockctl events: following ${values.device ?? 'every registered lock'}; Ctrl-C stops\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await client.close();
    return 0;
  } finally {
    await db.close();
  }
}
