import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DENIAL_REASONS } from '../../firmware/access/types.ts';
import { loadConfig } from '../../firmware/config.ts';
import { TumblerError } from '../../firmware/errors.ts';
import { LOCK_STATES } from '../../firmware/lock.ts';
import { parseScenario, ScenarioError } from '../../keypad-sim/scenario/schema.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { tempDir } from '../helpers/tmp.ts';
import { fuzzOptions } from './runs.ts';

const keyString = fc.string({ unit: fc.constantFrom(...'0123456789*#'), maxLength: 40 });

describe('fuzz: keypad key sequences', () => {
  it('never crashes; every decision is granted or a known reason; the audit chain holds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(keyString, fc.integer({ min: 0, max: 120_000 })), { minLength: 1, maxLength: 12 }),
        async (presses) => {
          const lock = await SimLock.create({ startEpochMs: Date.UTC(2026, 0, 5, 9), travelMs: 0 });
          try {
            lock.firmware.admin.add({ name: 'owner', pin: '2468' }, 'fuzz', lock.firmware.manager.wallNow());
            for (const [keys, pause] of presses) {
              await lock.press(keys);
              await lock.advance(pause);
            }
            const decisions = lock.firmware.audit.latest(10_000).filter((row) => row.type === 'decision');
            for (const row of decisions) {
              if (row.data.outcome === 'granted') expect(row.data.code_name).toBe('owner');
              else expect(DENIAL_REASONS).toContain(row.data.reason);
            }
            expect(LOCK_STATES).toContain(lock.firmware.manager.status().lock);
            expect(lock.firmware.audit.verify().ok).toBe(true);
          } finally {
            await lock.close();
          }
        },
      ),
      fuzzOptions(30),
    );
  }, 120_000);
});

describe('fuzz: config files', () => {
  it('any JSON either loads or is refused with config_invalid naming a field; nothing else escapes', () => {
    const dir = tempDir();
    const file = join(dir, 'lock.json');
    const value = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          timezone: fc.oneof(fc.string(), fc.constantFrom('Europe/Berlin', 'UTC', 'Mars/Base')),
          autoRelockSeconds: fc.oneof(fc.double(), fc.integer(), fc.string()),
          wrongCodeLimit: fc.oneof(fc.integer(), fc.constant(null)),
          mqtt: fc.oneof(fc.jsonValue(), fc.record({ url: fc.string() }, { requiredKeys: [] })),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(value, (json) => {
        writeFileSync(file, JSON.stringify(json) ?? 'null');
        try {
          loadConfig({ file });
        } catch (error) {
          expect(error).toBeInstanceOf(TumblerError);
          expect((error as TumblerError).code).toBe('config_invalid');
          expect((error as Error).message).toMatch(/^config file .*lock\.json/);
        }
      }),
      fuzzOptions(500),
    );
  });
});

describe('fuzz: scenario files', () => {
  it('any JSON either parses or is refused with a ScenarioError naming the file and where', () => {
    const step = fc.dictionary(
      fc.constantFrom(
        'press',
        'advance',
        'expect',
        'fault',
        'set_time',
        'add_code',
        'offline_code',
        'note',
        'bogus',
      ),
      fc.jsonValue(),
      { maxKeys: 2 },
    );
    const scenario = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          name: fc.oneof(fc.string(), fc.integer()),
          steps: fc.array(step, { maxLength: 6 }),
          device: fc.jsonValue(),
        },
        { requiredKeys: ['steps'] },
      ),
    );
    fc.assert(
      fc.property(scenario, (json) => {
        try {
          parseScenario('fuzz.json', json);
        } catch (error) {
          expect(error).toBeInstanceOf(ScenarioError);
          expect((error as Error).message).toMatch(/^fuzz\.json: (scenario|step \d+|file):/);
        }
      }),
      fuzzOptions(1000),
    );
  });
});
