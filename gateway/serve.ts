import type { FastifyInstance } from 'fastify';
import type { Logger } from '../firmware/log.ts';
import { type BrokerOptions, GatewayClient } from './client.ts';
import { buildServer } from './http/server.ts';
import { SeamGateway, type SeamGatewayOptions } from './seam/runtime.ts';
import { seamStore } from './seam/store.ts';
import { openGatewayDb } from './store.ts';

export interface ServeOptions {
  /** The gateway database: a SQLite file path, or a postgres:// URL (shared by the workers of `workerGroup`). */
  dbPath: string;
  broker: BrokerOptions;
  host: string;
  /** 0 picks a free port; `url` says which. */
  port: number;
  log?: Logger;
  commandTimeoutMs?: number;
  webhooks?: SeamGatewayOptions['webhooks'];
  /** One of several workers on one PostgreSQL database, sharing the lock topics (MQTT 5). */
  workerGroup?: string;
}

export interface RunningGateway {
  url: string;
  gateway: SeamGateway;
  server: FastifyInstance;
  close(): Promise<void>;
}

/**
 * One gateway process: the MQTT gateway service and the Seam HTTP API on one database.
 * With a worker group, any number of these run on one PostgreSQL database and broker;
 * each lock message goes to one of them, and any of them answers any HTTP request.
 */
export async function serveGateway(options: ServeOptions): Promise<RunningGateway> {
  const db = await openGatewayDb(options.dbPath);
  let client: GatewayClient | undefined;
  try {
    const store = await seamStore(db);
    client = await GatewayClient.connect({
      ...options.broker,
      ...(options.workerGroup ? { protocolVersion: 5 as const } : {}),
    });
    const gateway = new SeamGateway(store, client, {
      ...(options.log ? { log: options.log } : {}),
      ...(options.commandTimeoutMs ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
      ...(options.webhooks ? { webhooks: options.webhooks } : {}),
      ...(options.workerGroup ? { workerGroup: options.workerGroup } : {}),
    });
    await gateway.start();
    const server = buildServer(gateway, options.log);
    await server.listen({ host: options.host, port: options.port });
    const address = server.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    return {
      url: `http://${host}:${port}`,
      gateway,
      server,
      close: async () => {
        await server.close();
        await gateway.close();
        await db.close();
      },
    };
  } catch (error) {
    await client?.close();
    await db.close();
    throw error;
  }
}
