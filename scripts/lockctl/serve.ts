import { parseFlags, UsageError } from '../../firmware/cli.ts';
import { createLogger } from '../../firmware/log.ts';
import { describeTarget, isPostgresTarget } from '../../gateway/db/sql.ts';
import { builtConsole, CONSOLE_NOT_BUILT } from '../../gateway/http/console.ts';
import { serveGateway } from '../../gateway/serve.ts';
import { brokerOptions, GATEWAY_FLAGS, GATEWAY_FLAGS_HELP, gatewayDbPath, timeoutMs } from './common.ts';

export const SERVE_HELP = `Usage: lockctl serve [--http HOST:PORT] [--db FILE|URL] [--worker-group NAME] [options]

Runs the gateway: the MQTT gateway service (stores and acknowledges lock events,
answers time requests) and the Seam Connect HTTP API (docs/seam-api.md) on the
gateway database. Callers authenticate with keys from lockctl api-key create.
Logs one JSON object a line on stdout (never a PIN, a key or a request body).

  --http HOST:PORT     where the API listens (default 127.0.0.1:8080; port 0 picks one)
  --worker-group NAME  one of several workers (docs/scaling.md): every worker of NAME
                       uses the same --db postgres://... and broker, the lock topics are
                       MQTT 5 shared subscriptions ($share/NAME/lock/+/events ...), so
                       each lock message goes to one worker; any worker answers any
                       HTTP request. NAME: 1-64 letters, digits, _ or -

${GATEWAY_FLAGS_HELP}`;

/** HOST:PORT, with [v6]:PORT for IPv6. */
export function parseListen(command: string, value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65_535)
    throw new UsageError(
      `${command}: --http must be HOST:PORT such as 127.0.0.1:8080, got ${JSON.stringify(value)}`,
    );
  return { host: (match[1] ?? match[2])!, port };
}

export async function serveCommand(argv: string[]): Promise<number> {
  const command = 'lockctl serve';
  const { values, positionals } = parseFlags(command, argv, {
    ...GATEWAY_FLAGS,
    http: { type: 'string' },
    'worker-group': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }
  if (positionals.length)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.device)
    throw new UsageError(`${command}: --device does not apply (the gateway serves every lock)`);
  const { host, port } = parseListen(command, values.http ?? '127.0.0.1:8080');
  const dbPath = gatewayDbPath(values);
  const workerGroup = values['worker-group'];
  if (workerGroup !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(workerGroup))
      throw new UsageError(
        `${command}: --worker-group must be 1-64 letters, digits, _ or -, got ${JSON.stringify(workerGroup)}`,
      );
    if (!isPostgresTarget(dbPath))
      throw new UsageError(
        `${command}: --worker-group needs the workers' shared database: --db postgres://...`,
      );
  }
  const commandTimeoutMs = timeoutMs(command, values);
  const log = createLogger('gateway', { level: 'info', sink: process.stdout });
  const running = await serveGateway({
    dbPath,
    broker: brokerOptions(command, values),
    host,
    port,
    log,
    commandTimeoutMs,
    ...(workerGroup ? { workerGroup } : {}),
  });
  log.info('listening', {
    url: running.url,
    db: describeTarget(dbPath),
    ...(workerGroup ? { workerGroup } : {}),
  });
  // The web console (docs/console.md) is static files that only a checkout with its dev
  // dependencies can build; without them the API runs and /console says how to build it.
  if (builtConsole()) log.info('console', { url: `${running.url}/console/` });
  else log.warn(CONSOLE_NOT_BUILT);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.close();
  return 0;
}
