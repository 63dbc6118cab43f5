import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { connect, type IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from '../log.ts';
import type { LinkOptions } from './context.ts';
import { type MessageKind, sign } from './envelope.ts';
import type { Topics } from './topics.ts';

/**
 * MQTT.js leaves Nagle on; the outbox sends many small QoS 1 publishes, which then wait
 * on the peer's delayed ACK (40 ms stalls). Measured: drain rate x2.7 with it off.
 */
export function noDelay(client: MqttClient): void {
  (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
}

type StreamBuilder = (client: MqttClient, options: IClientOptions) => Duplex;
const require = createRequire(import.meta.url);

/**
 * An MQTT.js client for mqtt:// and mqtts:// (and their aliases tcp://, ssl://) built on
 * MQTT.js's own TCP or TLS stream, loading only the one it needs: MQTT.js's connect()
 * loads its WebSocket and TLS code at the first connect whatever the URL, about 8 MB of
 * a board's memory. Anything it does not cover (ws://, credentials or a query in the
 * URL, a SOCKS proxy) is left to connect() (undefined).
 */
function connectOverSocket(url: string, clientOptions: IClientOptions): MqttClient | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (!['mqtt', 'tcp', 'mqtts', 'ssl'].includes(scheme)) return undefined;
  if (parsed.username || parsed.password || parsed.search || process.env.MQTTJS_SOCKS_PROXY) return undefined;
  // As connect() does: a client certificate makes a plain URL a TLS one.
  const secure = scheme === 'mqtts' || scheme === 'ssl' || Boolean(clientOptions.cert && clientOptions.key);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const options: IClientOptions = {
    ...clientOptions,
    protocol: secure ? 'mqtts' : 'mqtt',
    host,
    hostname: host,
    ...(parsed.port ? { port: Number(parsed.port) } : {}),
  };
  const build = (
    require(secure ? 'mqtt/lib/connect/tls' : 'mqtt/lib/connect/tcp') as { default: StreamBuilder }
  ).default;
  const client = new MqttClient((self) => build(self, options), options);
  client.on('error', () => {}); // connect() does the same: errors are reported by the listeners added next
  return client;
}

export interface ConnectionEvents {
  /** The broker accepted the connection (first time and after every reconnect). */
  onConnect(): void;
  /** The connection dropped; MQTT.js reconnects by itself. */
  onClose(): void;
  onMessage(topic: string, payload: Buffer): void;
}

/**
 * The lock's MQTT session: one MQTT.js client with a retained `offline` last will,
 * reconnecting by itself, and signed QoS 1 publishing. Knows nothing of what is sent.
 */
export class MqttConnection {
  private client: MqttClient | undefined;
  private error: string | undefined;

  constructor(
    private readonly options: LinkOptions,
    private readonly deviceId: string,
    private readonly topics: Topics,
    private readonly signingKey: Uint8Array,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get lastError(): string | undefined {
    return this.error;
  }

  /** The MQTT.js client (the fleet drops its socket to force a reconnect). */
  get mqtt(): MqttClient | undefined {
    return this.client;
  }

  open(events: ConnectionEvents): void {
    const { options } = this;
    const clientOptions: IClientOptions = {
      clientId: `tumbler-${this.deviceId}-${randomBytes(3).toString('hex')}`,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      keepalive: 30,
      will: { topic: this.topics.availability, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.cert ? { cert: options.cert } : {}),
      ...(options.key ? { key: options.key } : {}),
      ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
    };
    const client = connectOverSocket(options.url, clientOptions) ?? connect(options.url, clientOptions);
    this.client = client;
    client.on('connect', () => {
      noDelay(client);
      this.error = undefined;
      this.log.info('mqtt connected', { broker: options.url });
      events.onConnect();
    });
    client.on('message', (topic, payload) => events.onMessage(topic, payload));
    client.on('error', (error) => {
      this.error = error.message;
      this.log.warn('mqtt error', { error: error.message });
    });
    client.on('close', () => events.onClose());
  }

  /** Publishes `offline` (retained) when connected, then ends the session. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.connected) {
      // Not past the connection's end: a broker that dies now would never PUBACK.
      await Promise.race([
        client
          .publishAsync(this.topics.availability, 'offline', { qos: 1, retain: true })
          .catch(() => undefined),
        new Promise<void>((resolve) => client.once('close', () => resolve())),
      ]);
    }
    // Forced: a graceful end waits for every unacknowledged publish, forever if the
    // broker is gone. Those events stay in the outbox and go out after the next connect.
    await client.endAsync(true).catch(() => undefined);
  }

  /** QoS 1 publish; does nothing while disconnected (everything is republished on connect). */
  async publish(topic: string, payload: string, retain = false): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    await client.publishAsync(topic, payload, { qos: 1, retain }).catch((error: Error) => {
      this.error = error.message;
    });
  }

  /**
   * QoS 1 publish with a callback when the broker acknowledged it (or failed); false
   * when not connected, so nothing was sent.
   */
  publishTracked(topic: string, payload: string, done: (error?: Error) => void): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    client.publish(topic, payload, { qos: 1 }, (error) => {
      if (error) this.error = error.message;
      done(error);
    });
    return true;
  }

  async publishSigned(
    topic: string,
    kind: MessageKind,
    body: Record<string, unknown>,
    retain = false,
  ): Promise<void> {
    if (!this.connected) return;
    await this.publish(topic, JSON.stringify(sign(this.signingKey, kind, this.deviceId, body)), retain);
  }

  subscribe(topics: string[]): Promise<void> {
    const client = this.client;
    if (!client) return Promise.reject(new Error('not started'));
    return client.subscribeAsync(topics, { qos: 1 }).then(
      () => undefined,
      (error: Error) => {
        this.error = error.message;
        throw error;
      },
    );
  }
}
