import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { z } from 'zod';
import { TumblerError } from '../firmware/errors.ts';
import { deriveDeviceKeys } from '../firmware/provisioning.ts';
import { noDelay } from '../firmware/sync/connection.ts';
import { GATEWAY_MAX_PAYLOAD_BYTES, type MessageKind, openSigned, sign } from '../firmware/sync/envelope.ts';
import { type Topics, topicsFor } from '../firmware/sync/topics.ts';
import type { DeviceRecord } from './store.ts';

export interface BrokerOptions {
  url: string;
  username?: string;
  password?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure?: boolean;
  /** MQTT 5 for gateway workers (shared subscriptions); 3.1.1 (4) by default. */
  protocolVersion?: 4 | 5;
}

const COMMAND_LIFETIME_MS = 5 * 60_000;

/** The part of the lock's signed state a command needs. */
const lockIncarnationSchema = z.object({ incarnation: z.string().regex(/^[0-9a-f]{32}$/) }).passthrough();

const readOptional = (path: string | undefined) => (path ? readFileSync(path) : undefined);

/** One device as the gateway sees it: its topics and its signing key. */
export class DeviceChannel {
  readonly topics: Topics;
  readonly signingKey: Uint8Array;

  constructor(readonly device: DeviceRecord) {
    this.topics = topicsFor(device.deviceId);
    this.signingKey = deriveDeviceKeys(device.secret).signing;
  }

  sign<T extends Record<string, unknown>>(kind: MessageKind, body: T): T & { sig: string } {
    return sign(this.signingKey, kind, this.device.deviceId, body);
  }

  /**
   * Verifies a message the lock signed; undefined (and no throw) when it does not verify.
   * The lock's messages may exceed the 1 MiB it accepts itself (a large reported/codes).
   */
  open<S extends z.ZodType>(kind: MessageKind, payload: Buffer, schema: S): z.infer<S> | undefined {
    const opened = openSigned(
      this.signingKey,
      kind,
      this.device.deviceId,
      payload,
      schema,
      GATEWAY_MAX_PAYLOAD_BYTES,
    );
    return opened.ok ? opened.value : undefined;
  }
}

export const commandReplySchema = z
  .object({
    id: z.string().nullable(),
    ok: z.boolean(),
    result: z.record(z.string(), z.unknown()).optional(),
    error: z.string().optional(),
    message: z.string().optional(),
  })
  .strict();
export type CommandReply = z.infer<typeof commandReplySchema>;

/** The gateway's MQTT connection (MQTT.js), with request/response helpers. */
export class GatewayClient {
  /**
   * The newest `state` payload seen per topic. MQTT.js does not subscribe again to a
   * topic it is already subscribed to, so the broker resends no retained `state` on a
   * second command: the incarnation comes from what this connection last saw.
   */
  private readonly lastState = new Map<string, Buffer>();

  private constructor(readonly mqtt: MqttClient) {
    mqtt.on('message', (topic, payload) => {
      if (topic.endsWith('/state')) this.lastState.set(topic, payload);
    });
  }

  static async connect(options: BrokerOptions): Promise<GatewayClient> {
    const clientOptions: IClientOptions = {
      clientId: `tumbler-gateway-${randomBytes(4).toString('hex')}`,
      clean: true,
      connectTimeout: 5000,
      reconnectPeriod: 1000,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
      ...(options.caFile ? { ca: readOptional(options.caFile) } : {}),
      ...(options.certFile ? { cert: readOptional(options.certFile) } : {}),
      ...(options.keyFile ? { key: readOptional(options.keyFile) } : {}),
      ...(options.insecure ? { rejectUnauthorized: false } : {}),
      ...(options.protocolVersion ? { protocolVersion: options.protocolVersion } : {}),
    };
    try {
      const mqtt = await connectAsync(options.url, clientOptions, false);
      // Reconnect errors are expected during an outage; without a listener they would throw.
      mqtt.on('error', () => undefined);
      noDelay(mqtt);
      mqtt.on('connect', () => noDelay(mqtt));
      return new GatewayClient(mqtt);
    } catch (error) {
      throw new TumblerError(
        'broker_unreachable',
        `cannot connect to ${options.url}: ${(error as Error).message}`,
      );
    }
  }

  /** Ends the session; without a broker it does not wait for unacknowledged publishes (they would never complete). */
  async close(): Promise<void> {
    await this.mqtt.endAsync(!this.mqtt.connected).catch(() => undefined);
  }

  /**
   * The incarnation the lock's database has now, from its retained, signed `state`
   * (published at every connect, so current whenever the lock is online).
   */
  async lockIncarnation(channel: DeviceChannel, timeoutMs = 10_000): Promise<string> {
    const seen = this.lastState.get(channel.topics.state);
    const known = seen ? channel.open('state', seen, lockIncarnationSchema) : undefined;
    if (known) return known.incarnation;
    const state = this.waitFor(channel.topics.state, timeoutMs, (payload) =>
      channel.open('state', payload, lockIncarnationSchema),
    );
    await this.mqtt.subscribeAsync(channel.topics.state, { qos: 1 });
    return (await state).incarnation;
  }

  /**
   * Publishes a signed command for the lock's current incarnation (its retained state
   * names it) and waits for its reply on cmd/res.
   */
  async command(
    channel: DeviceChannel,
    counter: number,
    name: string,
    args: Record<string, unknown>,
    timeoutMs = 10_000,
  ): Promise<CommandReply> {
    const incarnation = await this.lockIncarnation(channel, timeoutMs);
    const id = `c${randomBytes(6).toString('hex')}`;
    const reply = this.waitFor(channel.topics.cmdRes, timeoutMs, (payload) => {
      const opened = channel.open('cmd_res', payload, commandReplySchema);
      return opened?.id === id ? opened : undefined;
    });
    await this.mqtt.subscribeAsync(channel.topics.cmdRes, { qos: 1 });
    const body = channel.sign('cmd', {
      id,
      name,
      args,
      counter,
      expires_at: new Date(Date.now() + COMMAND_LIFETIME_MS).toISOString(),
      incarnation,
    });
    await this.mqtt.publishAsync(channel.topics.cmd, JSON.stringify(body), { qos: 1 });
    return reply;
  }

  /**
   * Resolves with the first message on `topic` that `accept` turns into a value
   * (retained ones included), or rejects after `timeoutMs`.
   */
  waitFor<T>(topic: string, timeoutMs: number, accept: (payload: Buffer) => T | undefined): Promise<T> {
    const wait = new Promise<T>((resolve, reject) => {
      const onMessage = (incoming: string, payload: Buffer) => {
        if (incoming !== topic) return;
        const value = accept(payload);
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new TumblerError('timeout', `no answer on ${topic} within ${timeoutMs} ms (is the lock online?)`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.mqtt.off('message', onMessage);
      };
      this.mqtt.on('message', onMessage);
    });
    // Callers subscribe and publish before they await the wait: if that outlasts the
    // timeout or fails, the rejection must not go unhandled (Node would end the gateway).
    // Whoever awaits the returned promise still gets it.
    wait.catch(() => undefined);
    return wait;
  }
}
