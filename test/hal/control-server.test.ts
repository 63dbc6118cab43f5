import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSimHal } from '../../hal/index.ts';
import { VirtualScheduler } from '../../hal/scheduler.ts';
import { MAX_CLIENT_OUTPUT, MAX_LINE_BYTES, SimControlServer } from '../../hal/sim/control-server.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);

async function serve(): Promise<{ server: SimControlServer; path: string; dropped: string[] }> {
  const scheduler = new VirtualScheduler();
  const hal = createSimHal(scheduler, { startEpochMs: START });
  const dropped: string[] = [];
  const server = new SimControlServer(hal, scheduler, undefined, undefined, (reason) => dropped.push(reason));
  const path = join(tempDir(), 'sim.sock');
  await server.listen(path);
  onCleanup(() => server.close());
  return { server, path, dropped };
}

/** A raw client: what it sends, and the reply lines it has read. */
async function client(path: string): Promise<{ socket: Socket; replies: () => Record<string, unknown>[] }> {
  const socket = connect(path);
  onCleanup(() => socket.destroy());
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const replies = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { socket, replies };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('sim control socket: framing, limits, validation, mode', () => {
  it('a line over the limit gets exactly one line_too_long and is never executed, whatever its length', async () => {
    const { path } = await serve();
    const c = await client(path);
    // 70 KB of padding ending in a command; then a 200 KB one; then a good request.
    const padding = (n: number) => ' '.repeat(n);
    c.socket.write(`${padding(70 * 1024)}{"id":1,"cmd":"jam"}\n`);
    c.socket.write(`${padding(200 * 1024)}{"id":2,"cmd":"jam"}\n`);
    c.socket.write(`${padding(MAX_LINE_BYTES - 40)}{"id":3,"cmd":"devices"}\n`);
    await until(() => c.replies().length >= 3, 'three replies');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const replies = c.replies();
    expect(replies.map((r) => r.error ?? r.id)).toEqual(['line_too_long', 'line_too_long', 3]);
    expect(replies[2]).toMatchObject({ ok: true, jammed: false });
  });

  it('a client that never reads is not read either, and is dropped past the output bound', async () => {
    const { server, path, dropped } = await serve();
    const c = await client(path);
    c.socket.pause();
    const before = process.memoryUsage().rss;
    // 20 MB of requests, each answered with ~200 bytes: the server must stop reading.
    const request = `${JSON.stringify({ cmd: 'devices' })}\n`.repeat(1000);
    let written = 0;
    const writeMore = () => {
      while (written < 20 * 1024 * 1024 && c.socket.write(request)) written += request.length;
    };
    writeMore();
    c.socket.on('drain', () => {
      written += request.length;
      writeMore();
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Our writes back up: the server stopped reading long before 20 MB.
    expect(written).toBeLessThan(20 * 1024 * 1024);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    // Events are not the client's to stop: past the bound it is disconnected.
    const closed = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
    const big = { event: 'audit', pad: 'x'.repeat(16 * 1024) };
    for (let i = 0; i < (2 * MAX_CLIENT_OUTPUT) / (16 * 1024); i++) server.broadcast(big);
    c.socket.resume();
    await closed;
    expect(dropped).toEqual(['output_overflow']);
  });

  it('refuses instants that are not whole epoch ms or ISO instants from 2000 to 2099', async () => {
    const { path } = await serve();
    const c = await client(path);
    const bad = [1e20, 1e300, true, '1', 'tomorrow', -1, 1.5, Date.UTC(2100, 0, 1), '2026-07-01T12:00:00'];
    for (const [i, time] of bad.entries())
      c.socket.write(`${JSON.stringify({ id: i, cmd: 'rtc_set', time })}\n`);
    c.socket.write(`${JSON.stringify({ id: 'ok', cmd: 'rtc_set', time: '2026-07-01T12:00:00Z' })}\n`);
    c.socket.write(`${JSON.stringify({ id: 'rtc', cmd: 'devices' })}\n`);
    await until(() => c.replies().length === bad.length + 2, 'all replies');
    const replies = c.replies();
    for (const reply of replies.slice(0, bad.length)) {
      expect(reply).toMatchObject({ ok: false, error: 'bad_request' });
      expect(String(reply.message)).toMatch(/^time must be epoch milliseconds/);
    }
    expect(replies.at(-1)).toMatchObject({ rtc: { epochMs: Date.UTC(2026, 6, 1, 12) } });
  });

  it('sets the board inputs by name, refusing an unknown one, and shows them in devices', async () => {
    const { path } = await serve();
    const c = await client(path);
    for (const request of [
      { id: 1, cmd: 'input', name: 'tamper', active: true },
      { id: 2, cmd: 'input', name: 'door', active: true },
      { id: 3, cmd: 'input', name: 'powerFail', active: 'yes' },
      { id: 4, cmd: 'devices' },
    ])
      c.socket.write(`${JSON.stringify(request)}\n`);
    await until(() => c.replies().length === 4, 'all replies');
    const replies = c.replies();
    expect(replies[0]).toEqual({ id: 1, ok: true });
    expect(replies[1]).toMatchObject({
      ok: false,
      error: 'bad_request',
      message: 'name must be one of exitButton, tamper, powerFail',
    });
    expect(replies[2]).toMatchObject({
      ok: false,
      error: 'bad_request',
      message: 'active must be true or false',
    });
    expect(replies[3]).toMatchObject({ inputs: { exitButton: false, tamper: true, powerFail: false } });
  });

  it('creates the socket 0600 under umask 000, and never deletes a file that is not a socket', async () => {
    const dir = tempDir();
    const path = join(dir, 'sim.sock');
    const serverModule = new URL('../../hal/sim/control-server.ts', import.meta.url).pathname;
    const halModule = new URL('../../hal/index.ts', import.meta.url).pathname;
    const schedulerModule = new URL('../../hal/scheduler.ts', import.meta.url).pathname;
    const script = `
      process.umask(0);
      const { SimControlServer } = await import(${JSON.stringify(serverModule)});
      const { createSimHal } = await import(${JSON.stringify(halModule)});
      const { VirtualScheduler } = await import(${JSON.stringify(schedulerModule)});
      const scheduler = new VirtualScheduler();
      const server = new SimControlServer(createSimHal(scheduler), scheduler);
      await server.listen(${JSON.stringify(path)});
      const { statSync } = await import('node:fs');
      process.stdout.write((statSync(${JSON.stringify(path)}).mode & 0o777).toString(8));
      await server.close();
    `;
    const mode = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(mode).toBe('600');

    const precious = join(dir, 'lock.db');
    writeFileSync(precious, 'data');
    const scheduler = new VirtualScheduler();
    const server = new SimControlServer(createSimHal(scheduler), scheduler);
    await expect(server.listen(precious)).rejects.toThrow(/is not a socket; refusing to replace it/);
    expect(statSync(precious).size).toBe(4);
  });
});
