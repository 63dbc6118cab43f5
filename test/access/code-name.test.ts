import { describe, expect, it } from 'vitest';
import { parseCodeSpec } from '../../firmware/access/code-spec.ts';
import { commandArgs } from '../../firmware/sync/messages.ts';

const HOSTILE = [
  'evil\u001b[2J',
  'bell\u0007',
  'two\nlines',
  'tab\there',
  'del\u007f',
  'c1\u009b31m',
  'rtl\u202eboss',
  'sep\u2028x',
];

describe('code names: one rule at every entry path', () => {
  it('refuses control characters in a code (CLI, desired/codes, scenarios), naming the field', () => {
    for (const name of HOSTILE) {
      const parsed = parseCodeSpec({ name, pin: '2468' });
      expect(parsed, JSON.stringify(name)).toMatchObject({ ok: false, error: 'invalid_code' });
      expect(parsed.ok ? '' : parsed.message).toBe(
        'name: must not contain control characters (ESC, BEL, newlines, C1 controls)',
      );
    }
    expect(parseCodeSpec({ name: '  Zoë (cleaner) ', pin: '2468' })).toMatchObject({
      ok: true,
      spec: { name: 'Zoë (cleaner)' },
    });
  });

  it('refuses them in the gateway assign_backup_code command', () => {
    const args = { id: 1, starts_at: '2026-12-01T15:00:00Z', ends_at: '2026-12-02T15:00:00Z' };
    for (const name of HOSTILE)
      expect(commandArgs.assign_backup_code.safeParse({ ...args, name }).success, JSON.stringify(name)).toBe(
        false,
      );
    expect(commandArgs.assign_backup_code.safeParse({ ...args, name: 'guest' }).success).toBe(true);
  });
});
