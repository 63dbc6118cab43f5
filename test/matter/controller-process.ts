// The Matter controller of door-lock.test.ts, run as a child process inside the test's private
// network (test/matter/private-network.ts): matter.js's own CommissioningController, with its
// storage in the directory given as argv[2] and mDNS on `lo` only. It answers JSON lines on
// stdin with JSON lines on stdout: {id, op, ...} -> {id, value} or {id, error: {message, code}}.
// A `{"$text": "1234"}` in a request is sent as those bytes (PINs); in answers, bigints become
// numbers (or strings beyond 2^53) and byte arrays `{"$hex": ...}`. It exits when stdin closes.
import { createInterface } from 'node:readline';

const storage = process.argv[2];
if (!storage) throw new Error('usage: controller-process.ts STORAGE_DIR');

const { config } = await import('@matter/nodejs/config');
config.defaultStoragePath = storage;
config.loadProcessArgv = false;
config.loadProcessEnv = false;
config.loadConfigFile = false;
config.trapProcessSignals = false;
config.setProcessExitCodeOnError = false;
const { Environment, Logger, LogLevel } = await import('@matter/main');
const { ManualPairingCodeCodec, ClusterId } = await import('@matter/main/types');
const { CommissioningController } = await import('@project-chip/matter.js');
const { NodeStates } = await import('@project-chip/matter.js/device');
Logger.level = LogLevel.ERROR;
// matter.js logs to stdout by default: stdout carries the answers, so its lines go to stderr.
for (const destination of Object.values(Logger.destinations))
  destination.write = (text) => process.stderr.write(text);
// mDNS on the namespace's only interface (matter.js skips loopback unless named).
Environment.default.vars.set('mdns.networkInterface', 'lo');

const DOOR_LOCK_CLUSTER = 0x0101;

type Controller = InstanceType<typeof CommissioningController>;
type PairedNode = Awaited<ReturnType<Controller['getNode']>>;
interface LockClient {
  attributes: Record<
    string,
    { get(requestFromRemote?: boolean): Promise<unknown>; set(value: unknown): Promise<void> }
  >;
  commands: Record<string, (request?: unknown) => Promise<unknown>>;
}

const controllers = new Map<string, Controller>();
let paired: { controller: Controller; nodeId: Parameters<Controller['getNode']>[0] } | undefined;
let doorLock: LockClient | undefined;
const listening = new Set<object>();
const received: Array<{ name: string; data: unknown }> = [];

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function controller(name: string): Controller {
  const found = controllers.get(name);
  if (!found) throw new Error(`no controller ${name}`);
  return found;
}

function lock(): LockClient {
  if (!doorLock) throw new Error('not connected');
  return doorLock;
}

async function pairedNode(): Promise<PairedNode> {
  if (!paired) throw new Error('not commissioned');
  return paired.controller.getNode(paired.nodeId);
}

async function connect(afterRestart: boolean): Promise<void> {
  const node = await pairedNode();
  // UDP: the controller cannot tell the lock restarted; start a fresh session and subscription.
  if (afterRestart) {
    await node.disconnect();
    node.connect();
    await waitFor('the renewed subscription', () =>
      node.connectionState === NodeStates.Connected ? true : undefined,
    );
  }
  if (!listening.has(node)) {
    listening.add(node);
    node.events.eventTriggered.on(({ path, events }) => {
      for (const event of events) received.push({ name: path.eventName, data: event.data });
    });
  }
  if (!node.isConnected) node.connect();
  if (!node.initialized) await node.events.initialized;
  const endpoint = await waitFor('the door lock endpoint', () =>
    [...node.parts.values()].find((part) => part.getClusterClientById(ClusterId(DOOR_LOCK_CLUSTER))),
  );
  doorLock = endpoint.getClusterClientById(ClusterId(DOOR_LOCK_CLUSTER)) as unknown as LockClient;
}

type Request = Record<string, unknown> & { id: number; op: string };

const ops: Record<string, (request: Request) => Promise<unknown>> = {
  async start({ name, label }) {
    const started = new CommissioningController({
      environment: { environment: Environment.default, id: `tumbler-test-${name}` },
      autoConnect: false,
      adminFabricLabel: String(label),
    });
    await started.start();
    controllers.set(String(name), started);
  },
  async commission({ name, manualCode, port }) {
    const code = ManualPairingCodeCodec.decode(String(manualCode));
    const commissioner = controller(String(name));
    const nodeId = await commissioner.commissionNode({
      commissioning: { regulatoryLocation: 2, regulatoryCountryCode: 'XX' },
      discovery: {
        knownAddress: { ip: '127.0.0.1', port: Number(port), type: 'udp' },
        identifierData: { shortDiscriminator: code.shortDiscriminator! },
      },
      passcode: code.passcode,
    });
    paired ??= { controller: commissioner, nodeId };
  },
  async commissionedNodes({ name }) {
    return controller(String(name)).getCommissionedNodes().length;
  },
  async close({ name }) {
    await controller(String(name)).close();
    controllers.delete(String(name));
  },
  async openWindow() {
    return (await (await pairedNode()).openEnhancedCommissioningWindow(180)).manualPairingCode;
  },
  async connect({ afterRestart }) {
    await connect(afterRestart === true);
  },
  async read({ attribute }) {
    return lock().attributes[String(attribute)]!.get(true);
  },
  async write({ attribute, value }) {
    await lock().attributes[String(attribute)]!.set(value);
  },
  async invoke({ command, request }) {
    return lock().commands[String(command)]!(request);
  },
  async events() {
    return received;
  },
};

const fromJson = (_key: string, value: unknown) =>
  value !== null && typeof value === 'object' && '$text' in value
    ? new TextEncoder().encode(String((value as { $text: unknown }).$text))
    : value;
const toJson = (_key: string, value: unknown) => {
  if (typeof value === 'bigint')
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : String(value);
  if (value instanceof Uint8Array) return { $hex: Buffer.from(value).toString('hex') };
  return value;
};
const answer = (message: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify(message, toJson)}\n`);

// One request at a time, in order, as the test awaits each.
let queue = Promise.resolve();
createInterface({ input: process.stdin })
  .on('line', (text) => {
    const request = JSON.parse(text, fromJson) as Request;
    queue = queue.then(async () => {
      try {
        const op = ops[request.op];
        if (!op) throw new Error(`unknown op ${request.op}`);
        answer({ id: request.id, value: (await op(request)) ?? null });
      } catch (error) {
        const { message, code } = error as { message: string; code?: unknown };
        answer({ id: request.id, error: { message, code: typeof code === 'number' ? code : null } });
      }
    });
  })
  .on('close', () => {
    void queue.then(async () => {
      for (const open of controllers.values()) await open.close().catch(() => {});
      process.exit(0);
    });
  });
answer({ id: 0, value: 'ready' });
