import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scenarioCommand } from '../../keypad-sim/scenario/command.ts';
import { parseScenario } from '../../keypad-sim/scenario/schema.ts';
import { tempDir } from '../helpers/tmp.ts';

const minimal = { name: 'x', steps: [{ press: '1#' }] };

function parseError(json: unknown): string {
  try {
    parseScenario('s.json', json);
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
}

describe('scenario files are validated with precise messages', () => {
  it('accepts a minimal scenario with defaults', () => {
    expect(parseScenario('s.json', minimal).device.timezone).toBe('UTC');
  });

  it.each([
    [{ ...minimal, steps: [{ press: '12a#' }] }, 's.json: step 1: press: must be keys 0-9, * and # only'],
    [
      { ...minimal, steps: [{ press: '1#' }, { advance: '10 seconds' }] },
      's.json: step 2: advance: must be an ISO-8601 duration',
    ],
    [{ ...minimal, steps: [{ jump: 'PT1S' }] }, 's.json: step 1: unknown step "jump"'],
    // Names every object inherits are not steps either.
    [{ ...minimal, steps: [{ toString: 'PT1S' }] }, 's.json: step 1: unknown step "toString"'],
    [{ ...minimal, steps: [{ constructor: 'PT1S' }] }, 's.json: step 1: unknown step "constructor"'],
    [{ ...minimal, steps: [{ hasOwnProperty: 'PT1S' }] }, 's.json: step 1: unknown step "hasOwnProperty"'],
    [JSON.parse('{"name":"x","steps":[{"__proto__":{"press":"1#"}}]}'), 's.json: step 1: no action'],
    [
      { ...minimal, steps: [{ press: '1#', advance: 'PT1S' }] },
      's.json: step 1: has press and advance; a step does exactly one thing',
    ],
    [{ ...minimal, steps: [{ expect: { lock: 'open' } }] }, 's.json: step 1: expect.lock'],
    [{ ...minimal, steps: [{ expect: {} }] }, 'expect needs at least one field'],
    [{ ...minimal, steps: [{ fault: 'meteor' }] }, 's.json: step 1: fault'],
    [
      { ...minimal, device: { timezone: 'Mars/Olympus' } },
      's.json: scenario: device.timezone: must be an IANA time zone',
    ],
    [
      { ...minimal, codes: [{ name: 'a', pin: '12' }] },
      's.json: scenario: codes[0].pin: must be 4 to 10 digits',
    ],
    [{ ...minimal, steps: [] }, 'a scenario needs at least one step'],
    [{ ...minimal, stpes: [] }, 'stpes'],
  ])('%j', (json, message) => {
    expect(parseError(json)).toContain(message);
  });
});

describe('keypad-sim run', () => {
  it('prints the failing step with expected and actual values, exits 1, and writes JUnit XML', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'a-pass.json'),
      JSON.stringify({
        name: 'passes',
        codes: [{ name: 'o', pin: '1357' }],
        steps: [{ press: '1357#' }, { expect: { decision: 'granted' } }],
      }),
    );
    writeFileSync(
      join(dir, 'b-fail.json'),
      JSON.stringify({
        name: 'fails',
        codes: [{ name: 'o', pin: '1357' }],
        steps: [{ press: '9999#' }, { expect: { lock: 'unlocked', reason: 'expired' } }],
      }),
    );
    writeFileSync(join(dir, 'c-broken.json'), '{ "name": ');
    const lines: string[] = [];
    const junit = join(dir, 'out.xml');
    const status = await scenarioCommand([dir, '--junit', junit], (line) => lines.push(line));
    const text = lines.join('\n');
    expect(status).toBe(1);
    expect(text).toMatch(/ok {6}passes/);
    expect(text).toContain(
      'step 2: expect failed: lock: expected "unlocked", actual "locked"; reason: expected "expired", actual "unknown_code"',
    );
    expect(text).toMatch(/INVALID .*c-broken.json: file: not valid JSON/);
    expect(text).toMatch(/^1 passed, 2 failed \(1 invalid files\)$/m);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(xml).toContain('<testsuite name="keypad-sim scenarios" tests="3" failures="1" errors="1"');
    expect(xml).toMatch(/<failure message="step 2: expect failed: lock: expected &quot;unlocked&quot;/);
    expect(xml).toContain('<error message=');
  });

  it('reports a step named like an inherited property as INVALID, and matches event fields by own name', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'a.json'),
      JSON.stringify({ name: 'inherited', steps: [{ constructor: 'PT1S' }] }),
    );
    writeFileSync(
      join(dir, 'b.json'),
      JSON.stringify({
        name: 'event field',
        codes: [{ name: 'o', pin: '1357' }],
        steps: [{ press: '1357#' }, { expect: { event: { type: 'decision', toString: null } } }],
      }),
    );
    const lines: string[] = [];
    const status = await scenarioCommand([dir], (line) => lines.push(line));
    const text = lines.join('\n');
    expect(status).toBe(1);
    expect(text).toMatch(/INVALID .*a.json: step 1: unknown step "constructor"/);
    expect(text).toMatch(/FAIL {4}event field/);
    expect(text).toContain('step 2: expect failed: event: expected {"type":"decision","toString":null}');
    expect(text).toMatch(/^0 passed, 2 failed \(1 invalid files\)$/m);
  });

  it('filters by name and passes when everything passes', async () => {
    const lines: string[] = [];
    const examples = new URL('../../keypad-sim/examples', import.meta.url).pathname;
    const status = await scenarioCommand([examples, '--filter', 'opens once'], (line) => lines.push(line));
    expect(status).toBe(0);
    expect(lines.join('\n')).toMatch(/^1 passed, 0 failed$/m);
  });
});
