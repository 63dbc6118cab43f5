import type { FastifyInstance } from 'fastify';
import type { Logger } from '../firmware/log.ts';
import { type BrokerOptions, GatewayClient } from './client.ts';
import { buildServer } from './http/server.ts';
import { SeamGateway, type SeamGatewayOptions } from './seam/runtime.ts';
import { openSeamStore } from './seam/store.ts';

export interface ServeOptions {
  dbPath: string;
  broker: BrokerOptions;
  host: string;
  /** 0 picks a free port; `url` says which. */
  port: number;
  log?: Logger;
  commandTimeoutMs?: number;
  webhooks?: SeamGatewayOptions['webhooks'];
}

export interface RunningGateway {
  url: string;
  gateway: SeamGateway;
  server: FastifyInstance;
  close(): Promise<void>;
}

/** The gateway as one process: the MQTT gateway service and the Seam HTTP API on one database. */
export async function serveGateway(options: ServeOptions): Promise<RunningGateway> {
  const store = openSeamStore(options.dbPath);
  let client: GatewayClient | undefined;
  try {
    client = await GatewayClient.connect(options.broker);
    const gateway = new SeamGateway(store, client, {
      ...(options.log ? { log: options.log } : {}),
      ...(options.commandTimeoutMs ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
      ...(options.webhooks ? { webhooks: options.webhooks } : {}),
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
        store.db.close();
      },
    };
  } catch (error) {
    await client?.close();
    store.db.close();
    throw error;
  }
}
