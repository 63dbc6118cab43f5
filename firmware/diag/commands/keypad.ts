import type { Key } from '../../../hal/keypad.ts';
import { type Answer, ok } from '../answer.ts';
import { countArg } from '../args.ts';
import type { CommandSpec } from '../registry.ts';
import { auditTechnicianAction } from '../technician-action.ts';

/** Two `#` this close together end the test: what a held key gives on an auto-repeating keypad. */
export const HASH_HOLD_MS = 1000;

export type KeypadTestEnd = 'hash_held' | 'timeout' | 'interrupted';

export const keypadTest: CommandSpec = {
  name: 'keypad test',
  usage: 'keypad test [SECONDS]',
  summary: 'show each key pressed until # is held, or SECONDS idle (30)',
  details: [
    'Keys still reach the lock: press * before finishing so the test keys are not judged as a code.',
    'Without a technician login digits show as "digit" (a resident may be typing a PIN);',
    'logged in, each key shows by name. * and # always show.',
  ],
  async run(call): Promise<Answer> {
    const idleSeconds = countArg(call.args, 'keypad test [SECONDS]', 30, 600);
    const { hal, scheduler } = call.ctx;
    const named = call.session.privileged;
    if (named) auditTechnicianAction(call, 'keypad_test');
    const shown = (key: Key) => (named || key === '*' || key === '#' ? key : 'digit');
    call.emit(
      `keypad test: press keys; hold # (or press it twice) to finish; Ctrl-C stops. Idle limit ${idleSeconds} s.`,
      {
        event: 'keypad_test_started',
        idle_s: idleSeconds,
        named_keys: named,
      },
    );
    const keys: string[] = [];
    return new Promise<Answer>((resolve) => {
      let lastHashAt: number | null = null;
      let timer = scheduler.after(idleSeconds * 1000, () => finish('timeout'));
      const off = hal.keypad.onKey((key) => {
        keys.push(shown(key));
        call.emit(`key ${shown(key)}`, { event: 'key', key: shown(key) });
        scheduler.cancel(timer);
        timer = scheduler.after(idleSeconds * 1000, () => finish('timeout'));
        const now = scheduler.now();
        if (key === '#' && lastHashAt !== null && now - lastHashAt <= HASH_HOLD_MS) finish('hash_held');
        lastHashAt = key === '#' ? now : null;
      });
      const onAbort = () => finish('interrupted');
      call.signal.addEventListener('abort', onAbort, { once: true });
      let done = false;
      function finish(ended: KeypadTestEnd): void {
        if (done) return;
        done = true;
        off();
        scheduler.cancel(timer);
        call.signal.removeEventListener('abort', onAbort);
        const how = { hash_held: '# held', timeout: `no key for ${idleSeconds} s`, interrupted: 'Ctrl-C' }[
          ended
        ];
        resolve(
          ok(
            `keypad test ended (${how}): ${keys.length} key${keys.length === 1 ? '' : 's'}${keys.length ? `: ${keys.join(' ')}` : ''}`,
            {
              ended,
              count: keys.length,
              keys,
            },
          ),
        );
      }
    });
  },
};
