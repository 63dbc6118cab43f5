import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A booking system's webhook endpoint: records every delivery, answers with `status()`. */
export async function receiver(status: () => number) {
  const deliveries: Delivery[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body });
      response.writeHead(status()).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/seam`, deliveries };
}

export const headersOf = (delivery: Delivery) =>
  Object.fromEntries(
    Object.entries(delivery.headers).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  );
