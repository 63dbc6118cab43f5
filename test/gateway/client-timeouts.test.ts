import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { addDevice, getDevice, openGatewayDb } from '../../gateway/store.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';

// A command's wait starts before the gateway has subscribed and published; when the
// timeout comes first (a broker slow to answer under load, a tiny --wait), the rejection
// must reach the caller and nowhere else: an unhandled one ends `lockctl serve` (a
// 5,000-lock fleet run found it). Vitest fails the run on an unhandled rejection.
describe('GatewayClient timeouts', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('a command whose timeout passes before its publish rejects to the caller only', async () => {
    const broker = await TestBroker.start();
    cleanups.push(() => broker.close());
    const db = await openGatewayDb(join(tempDir(), 'gw.db'));
    cleanups.push(() => db.close());
    await addDevice(db, 'silent', randomBytes(32));
    const channel = new DeviceChannel(await getDevice(db, 'silent'));
    const client = await GatewayClient.connect({ url: broker.url });
    cleanups.push(() => client.close());
    // No lock: its state never comes, and 1 ms passes before the subscription is granted.
    await expect(client.command(channel, 1, 'list_codes', {}, 1)).rejects.toThrow(
      /no answer on lock\/silent\/state/,
    );
    await expect(client.lockIncarnation(channel, 1)).rejects.toThrow(/within 1 ms/);
    // Let any stray rejection surface before the test ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
});
