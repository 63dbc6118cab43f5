import { emitKeypressEvents } from 'node:readline';
import { type Action, type LockView, renderView, type ViewSource } from './view.ts';

const HOUR = 3_600_000;

/** Maps a terminal key to a simulator action. */
export function actionForKey(
  name: string | undefined,
  sequence: string | undefined,
): Action | 'quit' | undefined {
  const key = sequence ?? '';
  if (/^[0-9*#]$/.test(key)) return { type: 'press', keys: key };
  switch (name) {
    case 'return':
    case 'enter':
      return { type: 'press', keys: '#' };
    case 'backspace':
    case 'escape':
      return { type: 'press', keys: '*' };
    case 'h':
      return { type: 'advance', ms: HOUR };
    case 'd':
      return { type: 'advance', ms: 24 * HOUR };
    case 'j':
      return { type: 'toggle_jam' };
    case 'o':
      return { type: 'toggle_door' };
    case 'r':
      return { type: 'rtc_lost' };
    case 't':
      return { type: 'sync_time' };
    case 'v':
      return { type: 'next_mode' };
    case 'p':
      return { type: 'power_cycle' };
    case 'q':
      return 'quit';
    default:
      return undefined;
  }
}

/**
 * The interactive keypad: raw-mode keys in, the screen redrawn a few times a second.
 * Without a TTY (piped input), each input line is pressed as keys and the screen is
 * printed after each line, so the simulator can also be scripted from a shell.
 */
export async function runTerminal(source: ViewSource, banner: string): Promise<void> {
  let message: string | undefined;
  let view: LockView | undefined;
  const draw = async () => {
    try {
      view = await source.snapshot();
      process.stdout.write(renderView(view, banner, message));
    } catch (error) {
      message = (error as Error).message;
    }
  };
  const perform = async (action: Action) => {
    try {
      const said = await source.act(action);
      if (said !== undefined) message = said;
    } catch (error) {
      message = `refused: ${(error as Error).message}`;
    }
    await draw();
  };

  if (!process.stdin.isTTY) {
    process.stdin.setEncoding('utf8');
    let buffered = '';
    for await (const chunk of process.stdin) {
      buffered += chunk as string;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (line === 'q') return;
        const keys = line.replace(/[^0-9*#]/g, '');
        if (keys) await perform({ type: 'press', keys });
        await new Promise((resolve) => setTimeout(resolve, 50));
        await draw();
      }
    }
    return;
  }

  emitKeypressEvents(process.stdin);
  process.stdin.setRawMode(true);
  process.stdout.write('\x1b[?25l');
  const timer = setInterval(() => void draw(), 200);
  await draw();
  await new Promise<void>((resolve) => {
    process.stdin.on(
      'keypress',
      (sequence: string | undefined, key: { name?: string; ctrl?: boolean } | undefined) => {
        if (key?.ctrl && key.name === 'c') return resolve();
        const action = actionForKey(key?.name, sequence);
        if (action === 'quit') return resolve();
        if (action) void perform(action);
      },
    );
  });
  clearInterval(timer);
  process.stdin.setRawMode(false);
  process.stdin.pause();
  process.stdout.write('\x1b[?25h\n');
}
