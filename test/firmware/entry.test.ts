import { describe, expect, it } from 'vitest';
import { EntryCollector, type EntryEvent } from '../../firmware/entry.ts';
import type { Key } from '../../hal/keypad.ts';
import { VirtualScheduler } from '../../hal/scheduler.ts';

function collector(maxLength = 12, timeoutMs = 5000) {
  const scheduler = new VirtualScheduler();
  const events: EntryEvent[] = [];
  const entry = new EntryCollector(scheduler, { timeoutMs, maxLength }, (e) => events.push(e));
  const type = (keys: string) => {
    for (const k of keys) entry.press(k as Key);
  };
  return { scheduler, events, entry, type };
}

describe('EntryCollector', () => {
  it('submits the digits on # and reports only lengths while typing', () => {
    const { events, type } = collector();
    type('0123#');
    expect(events).toEqual([
      { type: 'progress', length: 1 },
      { type: 'progress', length: 2 },
      { type: 'progress', length: 3 },
      { type: 'progress', length: 4 },
      { type: 'submit', digits: '0123' },
    ]);
  });

  it('clears on * and ignores # on an empty entry', () => {
    const { events, type, entry } = collector();
    type('12*');
    expect(entry.length).toBe(0);
    expect(events.at(-1)).toEqual({ type: 'cleared', why: 'star' });
    type('#');
    expect(events.filter((e) => e.type === 'submit')).toEqual([]);
    type('9876#');
    expect(events.at(-1)).toEqual({ type: 'submit', digits: '9876' });
  });

  it('drops a half-typed entry after the inter-key timeout, not before', async () => {
    const { events, type, scheduler, entry } = collector(12, 5000);
    type('12');
    await scheduler.advance(4999);
    type('3');
    await scheduler.advance(4999);
    expect(entry.length).toBe(3);
    await scheduler.advance(1);
    expect(entry.length).toBe(0);
    expect(events.at(-1)).toEqual({ type: 'cleared', why: 'timeout' });
  });

  it('submits an over-long entry at once so it is refused as malformed', () => {
    const { events, type } = collector(4);
    type('12345');
    expect(events.at(-1)).toEqual({ type: 'submit', digits: '12345' });
  });

  it('checks its options', () => {
    const s = new VirtualScheduler();
    expect(() => new EntryCollector(s, { timeoutMs: 0, maxLength: 4 }, () => {})).toThrow(/timeoutMs/);
    expect(() => new EntryCollector(s, { timeoutMs: 10, maxLength: 0 }, () => {})).toThrow(/maxLength/);
  });
});
