import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../keypad-sim/scenario/runner.ts';

// The project's behaviour tests and QA's examples, in the one scenario language.
const folders = [
  new URL('.', import.meta.url).pathname,
  new URL('../../keypad-sim/examples/', import.meta.url).pathname,
];

for (const folder of folders) {
  describe(`scenarios in ${folder.split('/').slice(-2).join('/')}`, () => {
    for (const file of readdirSync(folder)
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      it(file, async () => {
        const result = await runScenario(loadScenario(join(folder, file)));
        expect(
          result.failure
            ? `step ${result.failure.step}: ${result.failure.message}\n${result.log.join('\n')}`
            : 'ok',
        ).toBe('ok');
      });
    }
  });
}
