import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimLock } from '../../keypad-sim/sim-lock.ts';

type Action = { press: 'once' | 'thrice' | 'owner' | 'wrong' } | { advance: number } | { powerCycle: true };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .constantFrom<'once' | 'thrice' | 'owner' | 'wrong'>('once', 'thrice', 'owner', 'wrong')
      .map((press) => ({ press })),
  },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 3_600_000 }).map((advance) => ({ advance })) },
  { weight: 1, arbitrary: fc.constant({ powerCycle: true as const }) },
);

const PINS = { once: '1111', thrice: '3333', owner: '9999', wrong: '5678' } as const;

describe('use limits hold across any sequence of presses, time moves and power cycles', () => {
  it('a one_time code opens at most once and a max_uses code at most max_uses times', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 25 }), async (actions) => {
        const lock = await SimLock.create({ startEpochMs: Date.UTC(2026, 5, 1, 8), travelMs: 0 });
        try {
          const now = () => lock.firmware.manager.wallNow();
          lock.firmware.admin.add({ name: 'once', pin: PINS.once, kind: 'one_time' }, 'test', now());
          lock.firmware.admin.add({ name: 'thrice', pin: PINS.thrice, max_uses: 3 }, 'test', now());
          lock.firmware.admin.add({ name: 'owner', pin: PINS.owner }, 'test', now());
          for (const step of actions) {
            if ('press' in step) await lock.press(`${PINS[step.press]}#`);
            else if ('advance' in step) await lock.advance(step.advance);
            else await lock.powerCycle();
          }
          const grants = lock.firmware.audit
            .latest(10_000)
            .filter((row) => row.type === 'decision' && row.data.outcome === 'granted')
            .map((row) => row.data.code_name);
          expect(grants.filter((name) => name === 'once').length).toBeLessThanOrEqual(1);
          expect(grants.filter((name) => name === 'thrice').length).toBeLessThanOrEqual(3);
          expect(lock.firmware.codes.findByPin(PINS.thrice)!.uses).toBe(
            grants.filter((name) => name === 'thrice').length,
          );
          expect(lock.firmware.audit.verify().ok).toBe(true);
        } finally {
          await lock.close();
        }
      }),
      { numRuns: 100, seed: 20261122 },
    );
  }, 60_000);
});
