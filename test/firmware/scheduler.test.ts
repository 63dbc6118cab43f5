import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../hal/scheduler.ts';

describe('VirtualScheduler', () => {
  it('fires timers in due order, ties in creation order, only when advanced', async () => {
    const s = new VirtualScheduler();
    const fired: string[] = [];
    s.after(300, () => fired.push('c'));
    s.after(100, () => fired.push('a'));
    s.after(100, () => fired.push('b'));
    expect(fired).toEqual([]);
    await s.advance(99);
    expect(fired).toEqual([]);
    await s.advance(1);
    expect(fired).toEqual(['a', 'b']);
    await s.advance(1000);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(s.now()).toBe(1100);
  });

  it('fires timers created by timers within the same advance, at their own due time', async () => {
    const s = new VirtualScheduler();
    const seen: number[] = [];
    s.after(10, () => s.after(10, () => seen.push(s.now())));
    await s.advance(25);
    expect(seen).toEqual([20]);
  });

  it('repeats every() and stops on cancel', async () => {
    const s = new VirtualScheduler();
    let count = 0;
    const handle = s.every(100, () => count++);
    await s.advance(350);
    expect(count).toBe(3);
    s.cancel(handle);
    await s.advance(1000);
    expect(count).toBe(3);
  });

  it('lets hardware answers (setImmediate) land between timers', async () => {
    const s = new VirtualScheduler();
    const order: string[] = [];
    s.after(10, () => setImmediate(() => order.push('answer')));
    s.after(20, () => order.push('next timer'));
    await s.advance(30);
    expect(order).toEqual(['answer', 'next timer']);
  });

  it('rejects negative or non-finite delays, naming the argument', () => {
    const s = new VirtualScheduler();
    expect(() => s.after(-1, () => {})).toThrow(/delayMs/);
    expect(() => s.every(0, () => {})).toThrow(/periodMs/);
    expect(() => s.advance(Number.NaN)).toThrow(/ms/);
  });
});
