// The Matter controller of door-lock.test.ts, run as a child process inside the test's private
// network (test/matter/private-network.ts): matter.js's own CommissioningController, with its
// storage in the directory given as argv[2] and mDNS on `lo` only. It answers JSON lines on
// stdin with JSON lines on stdout: {id, op, ...} -> {id, value} or {id, error: {message, code}}.
// Requests about the lock act as the first controller that commissioned it, or as the one named
// by `as` (another fabric).
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
/** The lock as each controller commissioned it; the first is the default. */
const paired = new Map<string, Parameters<Controller['getNode']>[0]>();
const doorLocks = new Map<string, LockClient>();
const listening = new Set<object>();
const received: Array<{ name: string; data: unknown; as: string }> = [];

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

/** Whose fabric a request acts on: `as`, else the first controller that commissioned the lock. */
function actor(as: unknown): string {
  const name = as === undefined ? paired.keys().next().value : String(as);
  if (name === undefined || !paired.has(name))
    throw new Error(`${String(as ?? 'no controller')} has not commissioned the lock`);
  return name;
}

function lock(as: unknown): LockClient {
  const client = doorLocks.get(actor(as));
  if (!client) throw new Error('not connected');
  return client;
}

async function pairedNode(as: unknown): Promise<PairedNode> {
  const name = actor(as);
  return controller(name).getNode(paired.get(name)!);
}

async function connect(as: unknown, afterRestart: boolean): Promise<void> {
  const name = actor(as);
  const node = await pairedNode(name);
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
      for (const event of events) received.push({ name: path.eventName, data: event.data, as: name });
    });
  }
  if (!node.isConnected) node.connect();
  if (!node.initialized) await node.events.initialized;
  const endpoint = await waitFor('the door lock endpoint', () =>
    [...node.parts.values()].find((part) => part.getClusterClientById(ClusterId(DOOR_LOCK_CLUSTER))),
  );
  doorLocks.set(name, endpoint.getClusterClientById(ClusterId(DOOR_LOCK_CLUSTER)) as unknown as LockClient);
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
    paired.set(String(name), nodeId);
  },
  async commissionedNodes({ name }) {
    return controller(String(name)).getCommissionedNodes().length;
  },
  async close({ name }) {
    await controller(String(name)).close();
    controllers.delete(String(name));
    paired.delete(String(name));
    doorLocks.delete(String(name));
  },
  async openWindow({ as }) {
    return (await (await pairedNode(as)).openEnhancedCommissioningWindow(180)).manualPairingCode;
  },
  async connect({ as, afterRestart }) {
    await connect(as, afterRestart === true);
  },
  /** Removes this controller's fabric from the lock (RemoveFabric); the last one factory-resets it. */
  async decommission({ as }) {
    const name = actor(as);
    await (await pairedNode(name)).decommission();
    paired.delete(name);
    doorLocks.delete(name);
  },
  async read({ as, attribute }) {
    return lock(as).attributes[String(attribute)]!.get(true);
  },
  async write({ as, attribute, value }) {
    await lock(as).attributes[String(attribute)]!.set(value);
  },
  async invoke({ as, command, request }) {
    return lock(as).commands[String(command)]!(request);
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
