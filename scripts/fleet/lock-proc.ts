import type { FromShard, ToShard } from './protocol.ts';
import { Shard } from './shard.ts';

/**
 * A fleet lock process (forked by scripts/fleet/run.ts through scripts/fleet-locks.js):
 * does what the coordinator says over IPC, one step at a time, and exits after shutdown
 * or when the coordinator goes away.
 */
const send = (message: FromShard) => process.send?.(message);
let shard: Shard | undefined;
let windows: NodeJS.Timeout | undefined;
let closing: Promise<void> | undefined;
const close = () => {
  clearInterval(windows);
  closing ??= shard?.shutdown() ?? Promise.resolve();
  return closing;
};

async function handle(message: ToShard): Promise<void> {
  switch (message.type) {
    case 'setup':
      shard = new Shard(message.setup, (line) => send({ type: 'progress', line }));
      await shard.create();
      send({ type: 'registered' });
      return;
    case 'connect':
      send({ type: 'connected', connected: await shard!.connect() });
      return;
    case 'traffic': {
      windows = setInterval(() => send({ type: 'window', window: shard!.takeWindow() }), 1000);
      const report = await shard!.run(message.durationMs);
      clearInterval(windows);
      send({ type: 'done', report });
      return;
    }
    case 'stop':
      shard?.stop();
      return;
    case 'shutdown':
      await close();
      process.send?.({ type: 'closed' } satisfies FromShard, () => process.exit(0));
      return;
  }
}

process.on('message', (message: ToShard) => {
  handle(message).catch((error: Error) => send({ type: 'failed', message: error.stack ?? error.message }));
});
// The coordinator died: nothing would stop these locks.
process.on('disconnect', () => {
  void close().finally(() => process.exit(0));
});
