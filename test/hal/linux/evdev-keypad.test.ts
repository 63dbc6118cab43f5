import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Key } from '../../../hal/keypad.ts';
import { DeviceMissingError } from '../../../hal/linux/errors.ts';
import { EvdevKeypad, type InputDevice, type OpenInputDevice } from '../../../hal/linux/evdev-keypad.ts';
import { EV_KEY, type InputEventSize } from '../../../hal/linux/input-event.ts';
import { buildKeymap, KEY_CODES } from '../../../hal/linux/keymap.ts';
import type { HalLog } from '../../../hal/linux/log.ts';
import { VirtualScheduler } from '../../../hal/scheduler.ts';
import { eventually } from '../contract.ts';
import { encodeInputEvent, FakeInputNode, keyStroke, tempDir } from '../fake-kernel.ts';

const realPause = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

interface Rig {
  node: FakeInputNode;
  keypad: EvdevKeypad;
  keys: Key[];
  logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>;
  settle(ms?: number): Promise<void>;
}

describe('EvdevKeypad on a FIFO', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function rig(
    options: { keymap?: Record<string, Key>; eventSize?: InputEventSize } = {},
  ): Promise<Rig> {
    const dir = tempDir('evdev');
    const node = new FakeInputNode(join(dir.path, 'usb-keypad-event-kbd'));
    cleanups.push(
      () => dir.remove(),
      () => node.dispose(),
    );
    const scheduler = new VirtualScheduler();
    const logs: Rig['logs'] = [];
    const log: HalLog = (level, _module, msg, fields) => logs.push({ level, msg, fields });
    const keypad = await EvdevKeypad.open(
      {
        path: node.path,
        keymap: buildKeymap(options.keymap),
        eventSize: options.eventSize ?? 24,
        pollMs: 10,
        reconnectMs: 100,
        log,
      },
      scheduler,
    );
    cleanups.push(() => keypad.close());
    const keys: Key[] = [];
    keypad.onKey((key) => keys.push(key));
    return {
      node,
      keypad,
      keys,
      logs,
      settle: async (ms = 10) => {
        await scheduler.advance(ms);
        await realPause();
      },
    };
  }

  it('ignores releases, autorepeat and other event types', async () => {
    const r = await rig();
    const code = KEY_CODES.KEY_KP4!;
    r.node.write(
      Buffer.concat([
        encodeInputEvent({ type: EV_KEY, code, value: 1 }, 24),
        encodeInputEvent({ type: EV_KEY, code, value: 2 }, 24),
        encodeInputEvent({ type: EV_KEY, code, value: 2 }, 24),
        encodeInputEvent({ type: 4, code: 4, value: 458_849 }, 24), // EV_MSC scan code
        encodeInputEvent({ type: EV_KEY, code, value: 0 }, 24),
      ]),
    );
    await eventually(
      () => expect(r.keys).toEqual(['4']),
      () => r.settle(),
    );
    await r.settle();
    expect(r.keys).toEqual(['4']);
  });

  it('drops keys the keymap does not name', async () => {
    const r = await rig();
    r.node.write(keyStroke('x', 24, 'KEY_NUMLOCK'));
    r.node.press('1', 24);
    await eventually(
      () => expect(r.keys).toEqual(['1']),
      () => r.settle(),
    );
  });

  it('uses the board keymap instead of the default', async () => {
    const r = await rig({ keymap: { KEY_1: '1', KEY_KPDOT: '#' } });
    r.node.write(keyStroke('1', 24, 'KEY_1'));
    r.node.write(keyStroke('9', 24, 'KEY_KP9'));
    r.node.write(keyStroke('#', 24, 'KEY_KPDOT'));
    await eventually(
      () => expect(r.keys).toEqual(['1', '#']),
      () => r.settle(),
    );
  });

  it('joins an event split across two reads', async () => {
    const r = await rig({ eventSize: 16 });
    const stroke = keyStroke('8', 16);
    r.node.write(stroke.subarray(0, 5));
    await r.settle();
    await r.settle();
    expect(r.keys).toEqual([]);
    r.node.write(stroke.subarray(5));
    await eventually(
      () => expect(r.keys).toEqual(['8']),
      () => r.settle(),
    );
  });

  it('reads a burst longer than one read buffer, in order', async () => {
    const r = await rig();
    const burst = '0123456789*#'.repeat(8);
    r.node.press(burst, 24);
    await eventually(
      () => expect(r.keys.join('')).toBe(burst),
      () => r.settle(),
    );
  });

  it('survives being unplugged and carries on when plugged back in', async () => {
    const r = await rig();
    r.node.press('1', 24);
    await eventually(
      () => expect(r.keys).toEqual(['1']),
      () => r.settle(),
    );
    r.node.unplug();
    await eventually(
      () => expect(r.keypad.connected()).toBe(false),
      () => r.settle(),
    );
    expect(r.logs).toContainEqual({
      level: 'warn',
      msg: 'keypad went away',
      fields: { path: r.node.path, code: 'EOF' },
    });
    await r.settle(300);
    expect(r.keypad.connected()).toBe(false);
    r.node.replug();
    await eventually(
      () => expect(r.keypad.connected()).toBe(true),
      () => r.settle(100),
    );
    r.node.press('2', 24);
    await eventually(
      () => expect(r.keys).toEqual(['1', '2']),
      () => r.settle(),
    );
    expect(r.logs.some((entry) => entry.msg === 'keypad connected')).toBe(true);
  });

  it('never logs a key', async () => {
    const r = await rig();
    r.node.press('1234#', 24);
    await eventually(
      () => expect(r.keys).toHaveLength(5),
      () => r.settle(),
    );
    r.node.unplug();
    await eventually(
      () => expect(r.keypad.connected()).toBe(false),
      () => r.settle(),
    );
    expect(JSON.stringify(r.logs)).not.toMatch(/"[0-9#*]"/);
  });
});

describe('EvdevKeypad against a device that fails', () => {
  it('treats ENODEV as an unplug and reopens the path', async () => {
    const scheduler = new VirtualScheduler();
    const opened: string[] = [];
    const reads: Array<() => Promise<{ bytesRead: number }>> = [];
    const stroke = keyStroke('3', 24);
    const device = (name: string): InputDevice => ({
      async read(buffer) {
        const next = reads.shift();
        if (!next) throw Object.assign(new Error(`EAGAIN ${name}`), { code: 'EAGAIN' });
        const result = await next();
        stroke.copy(buffer);
        return result;
      },
      stat: async () => ({ ino: 1, dev: 1 }),
      close: async () => {
        opened.push(`close ${name}`);
      },
    });
    let count = 0;
    const open: OpenInputDevice = async (path) => {
      count++;
      if (count === 2) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      opened.push(`open ${path} #${count}`);
      return device(`#${count}`);
    };
    const keypad = await EvdevKeypad.open(
      { path: '/dev/input/event3', keymap: buildKeymap(), eventSize: 24, pollMs: 10, reconnectMs: 50, open },
      scheduler,
    );
    const keys: Key[] = [];
    keypad.onKey((key) => keys.push(key));
    reads.push(async () => {
      throw Object.assign(new Error('No such device'), { code: 'ENODEV' });
    });
    await scheduler.advance(10);
    expect(keypad.connected()).toBe(false);
    await scheduler.advance(50); // first reopen: ENOENT, still unplugged
    expect(keypad.connected()).toBe(false);
    await scheduler.advance(50);
    expect(keypad.connected()).toBe(true);
    reads.push(async () => ({ bytesRead: stroke.length }));
    await scheduler.advance(10);
    expect(keys).toEqual(['3']);
    await keypad.close();
    expect(opened).toEqual([
      'open /dev/input/event3 #1',
      'close #1',
      'open /dev/input/event3 #3',
      'close #3',
    ]);
  });

  it('fails at start with an error naming the field and the path', async () => {
    const error = await EvdevKeypad.open(
      {
        path: '/nonexistent/input/event9',
        keymap: buildKeymap(),
        eventSize: 24,
        pollMs: 10,
        reconnectMs: 100,
      },
      new VirtualScheduler(),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeviceMissingError);
    expect((error as DeviceMissingError).message).toMatch(
      /^board\.keypad\.device: \/nonexistent\/input\/event9 not found/,
    );
  });

  it('checks its arguments', async () => {
    const base = {
      path: '/dev/input/event0',
      keymap: buildKeymap(),
      eventSize: 24 as const,
      pollMs: 10,
      reconnectMs: 100,
    };
    await expect(EvdevKeypad.open({ ...base, path: 'event0' }, new VirtualScheduler())).rejects.toThrow(
      TypeError,
    );
    await expect(EvdevKeypad.open({ ...base, pollMs: 0 }, new VirtualScheduler())).rejects.toThrow(
      /options.pollMs/,
    );
  });
});
