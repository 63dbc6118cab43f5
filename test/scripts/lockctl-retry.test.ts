import { describe, expect, it } from 'vitest';
import type { CommandReply } from '../../gateway/client.ts';
import { sendRetryingRoundTrip, TIME_SYNC_ATTEMPTS } from '../../scripts/lockctl/command.ts';

const slow: CommandReply = {
  id: 'c',
  ok: false,
  error: 'rtt_too_long',
  message: 'round trip 2400 ms exceeds 2000 ms',
};
const synced: CommandReply = { id: 'c', ok: true, result: { accuracy_ms: 3 } };

/** A fake lock answering each attempt in turn (the lock's answers are the only input). */
function lockAnswering(...answers: CommandReply[]) {
  const retries: number[] = [];
  let sent = 0;
  const run = () =>
    sendRetryingRoundTrip(
      async () => answers[Math.min(sent++, answers.length - 1)]!,
      (_refusal, attempt) => retries.push(attempt),
    );
  return { run, sent: () => sent, retries };
}

describe('lockctl time sync asks again while the round trip was too long', () => {
  it('a slow round trip, then a fast one: synced', async () => {
    const lock = lockAnswering(slow, slow, synced);
    expect(await lock.run()).toEqual(synced);
    expect(lock.sent()).toBe(3);
    expect(lock.retries).toEqual([2, 3]);
  });

  it(`gives up after ${TIME_SYNC_ATTEMPTS} attempts with the lock's refusal`, async () => {
    const lock = lockAnswering(slow);
    expect(await lock.run()).toEqual(slow);
    expect(lock.sent()).toBe(TIME_SYNC_ATTEMPTS);
  });

  it('any other refusal is final', async () => {
    const lock = lockAnswering({ id: 'c', ok: false, error: 'backward_unconfirmed', message: 'no' }, synced);
    expect(await lock.run()).toMatchObject({ ok: false, error: 'backward_unconfirmed' });
    expect(lock.sent()).toBe(1);
  });
});
