import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { KEYS } from '../keypad.ts';
import { BoardConfigError } from './errors.ts';
import { keyCodeOf } from './keymap.ts';
import { errorCode, errorMessage } from './log.ts';

const required = (expected: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? 'required' : expected;

function intIn(min: number, max: number) {
  const expected = `expected an integer ${min}..${max}`;
  return z
    .number({ error: required(expected) })
    .int({ error: expected })
    .min(min, { error: expected })
    .max(max, { error: expected });
}

/** A JSON object section; a missing one reads `required`. */
function section<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  return z.strictObject(shape, { error: required('expected an object') });
}

const RTC_EXPECTED = 'expected an RTC driver name like "rtc-ds1307" or a name like "rtc0"';
const flag = z.boolean({ error: required('expected true or false') });
/**
 * A GPIO chip, by its driver's label (`pinctrl-bcm2711` on a Pi 4, `pinctrl-rp1` on a
 * Pi 5; `gpiodetect` lists them), or by its /dev name `gpiochipN` as an explicit opt-in.
 * Numbers differ between Pi models and kernels; a label names the header wherever it is.
 */
const CHIP_EXPECTED = 'expected a chip label like "pinctrl-bcm2711" or a name like "gpiochip0"';
const chipName = z
  .string({ error: required(CHIP_EXPECTED) })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.,:@-]{0,63}$/, { error: CHIP_EXPECTED });
/** Line offsets within one chip; the uAPI caps a chip far below this. */
const lineOffset = intIn(0, 511);
/** `disabled` is libgpiod v2's spelling of v1's `disable`; both mean no pull. */
const bias = z
  .enum(['as-is', 'disable', 'disabled', 'pull-up', 'pull-down'], {
    error: required('expected "as-is", "disabled", "pull-up" or "pull-down"'),
  })
  .transform((value) => (value === 'disabled' ? 'disable' : value));
const absolutePath = z
  .string({ error: required('expected an absolute path') })
  .startsWith('/', { error: 'expected an absolute path' });
const isoDate = z
  .string({ error: required('expected an ISO 8601 date like "2024-01-01T00:00:00Z"') })
  .refine((text) => /^\d{4}-\d{2}-\d{2}/.test(text) && Number.isFinite(Date.parse(text)), {
    error: 'expected an ISO 8601 date like "2024-01-01T00:00:00Z"',
  });

/** An input line (end-stop, door reed). `activeLow`: the line reads 0 when the switch is active. */
const inputLine = section({
  chip: chipName.optional(),
  line: lineOffset,
  activeLow: flag.default(false),
  bias: bias.default('as-is'),
});

/** An exit button, tamper switch or power-fail signal: active = pressed, opened, failing. */
const switchLine = inputLine.extend({ debounceMs: intIn(0, 5000).default(50) });

const strikeRelay = section({
  mode: z.literal('strike'),
  chip: chipName.optional(),
  /** The output that drives the strike (or maglock) relay. */
  strikeLine: lineOffset,
  /** The relay input is energised by a low level. */
  activeLow: flag.default(false),
  /** fail-secure: energise to unlock (electric strike). fail-safe: energise to lock (maglock). */
  failMode: z.enum(['fail-secure', 'fail-safe'], {
    error: required('expected "fail-secure" or "fail-safe"'),
  }),
  /** fail-secure only: the longest the coil stays energised; then it relocks. */
  pulseMs: intIn(50, 600_000).optional(),
});

const motorRelay = section({
  mode: z.literal('motor'),
  chip: chipName.optional(),
  /** Output that runs the motor toward the unlocked end-stop. */
  unlockLine: lineOffset,
  /** Output that runs the motor toward the locked end-stop. */
  lockLine: lineOffset,
  activeLow: flag.default(false),
  /** Both outputs off for this long before reversing, so an H-bridge never shorts. */
  deadTimeMs: intIn(0, 1000).default(50),
  lockedStop: inputLine,
  unlockedStop: inputLine,
  debounceMs: intIn(0, 1000).default(5),
});

const ledLines = section({
  chip: chipName.optional(),
  red: lineOffset.optional(),
  green: lineOffset.optional(),
  blue: lineOffset.optional(),
  activeLow: flag.default(false),
});

const buzzerLine = section({
  chip: chipName.optional(),
  line: lineOffset,
  activeLow: flag.default(false),
});

const keyName = z.string().refine((name) => keyCodeOf(name) !== undefined, {
  error: 'unknown key name (use a KEY_* name or a decimal code 1..767)',
});
const keyValue = z.enum(KEYS, { error: 'expected one of "0"-"9", "*", "#"' });

const boardSchema = z
  .strictObject({
    name: z.string().optional(),
    description: z.string().optional(),
    gpio: section({
      chip: chipName,
      /**
       * `uapi` (default): the kernel's GPIO v2 character-device interface in process,
       * through the native addon. `gpiod-tools`: the gpioset/gpiomon processes, chosen
       * only here, never as a silent fallback.
       */
      backend: z.enum(['uapi', 'gpiod-tools'], { error: 'expected "uapi" or "gpiod-tools"' }).default('uapi'),
      /** gpiod-tools only: how long a line holder must stay up before its value counts as set. */
      settleMs: intIn(0, 1000).optional(),
      /** gpiod-tools only: directory holding the tools; by default they are looked up on PATH. */
      toolsDir: absolutePath.optional(),
    }),
    relay: z.discriminatedUnion('mode', [strikeRelay, motorRelay], {
      error: 'expected mode "strike" or "motor"',
    }),
    keypad: section({
      device: absolutePath,
      eventSize: z
        .union([z.literal('auto'), z.literal(16), z.literal(24)], {
          error: 'expected "auto", 16 or 24',
        })
        .default('auto'),
      keymap: z.record(keyName, keyValue).optional(),
      pollMs: intIn(5, 1000).default(20),
      reconnectMs: intIn(100, 60_000).default(1000),
      /**
       * Take the device exclusively (EVIOCGRAB), so no other reader (the console, anyone
       * in the `input` group) sees the PIN digits. Needs the native addon; false only
       * for a device that is not an input event node (a test FIFO).
       */
      grab: flag.default(true),
    }),
    /** A Wiegand reader or keypad (26/34-bit frames) on two inputs: D0 and D1, idle high. */
    wiegand: section({
      chip: chipName.optional(),
      d0: lineOffset,
      d1: lineOffset,
      bias: bias.default('as-is'),
      /** Silence after the last bit that ends a frame. */
      frameGapMs: intIn(5, 5000).default(25),
    }).optional(),
    rtc: section({
      /**
       * The RTC by its driver's name (`rtc-ds1307` for a DS3231; first word of
       * /sys/class/rtc/rtcN/name), or `rtcN` as an explicit opt-in. On a Pi 5, rtc0
       * is the Pi's own RTC even when a DS3231 is fitted.
       */
      device: z
        .string({ error: required(RTC_EXPECTED) })
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.,:@-]{0,63}$/, { error: RTC_EXPECTED }),
      /** Readings before this instant are the reset date of a clock that lost power. */
      validAfter: isoDate.default('2024-01-01T00:00:00Z'),
      hwclock: z.string().min(1).default('hwclock'),
    }),
    door: inputLine.extend({ debounceMs: intIn(0, 5000).default(50) }),
    /** Optional switches besides the door; `activeLow` and `bias` as wired. */
    inputs: section({
      exitButton: switchLine.optional(),
      tamper: switchLine.optional(),
      powerFail: switchLine.optional(),
    }).default({}),
    indicator: section({ led: ledLines.optional(), buzzer: buzzerLine.optional() }).default({}),
  })
  .superRefine((board, ctx) => {
    if (board.gpio.backend === 'uapi') {
      for (const field of ['settleMs', 'toolsDir'] as const) {
        if (board.gpio[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: ['gpio', field], message: 'only for backend "gpiod-tools"' });
      }
    }
    if (board.wiegand && board.gpio.backend !== 'uapi') {
      ctx.addIssue({
        code: 'custom',
        path: ['wiegand'],
        message: 'needs gpio.backend "uapi" (tool processes cannot order the edges of D0 and D1)',
      });
    }
    if (
      board.relay.mode === 'strike' &&
      board.relay.failMode === 'fail-safe' &&
      board.relay.pulseMs !== undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['relay', 'pulseMs'],
        message: 'only for failMode "fail-secure"',
      });
    }
    const seen = new Map<string, string>();
    for (const use of lineUses(board)) {
      const key = `${use.chip}:${use.line}`;
      const other = seen.get(key);
      if (other) {
        ctx.addIssue({
          code: 'custom',
          path: use.field.split('.').slice(1),
          message: `line ${use.line} on ${use.chip} is already used by ${other}`,
        });
      } else seen.set(key, use.field);
    }
  });

export type BoardConfig = z.output<typeof boardSchema>;
export type StrikeRelayConfig = z.output<typeof strikeRelay>;
export type MotorRelayConfig = z.output<typeof motorRelay>;
export type InputLineConfig = z.output<typeof inputLine>;
export type SwitchLineConfig = z.output<typeof switchLine>;
export type WiegandConfig = NonNullable<z.output<typeof boardSchema>['wiegand']>;

export interface LineUse {
  /** Board-file field, e.g. `board.relay.unlockLine`. */
  field: string;
  chip: string;
  line: number;
}

/** Every GPIO line the board uses, with the field that names it. */
export function lineUses(board: z.input<typeof boardSchema> & { gpio: { chip: string } }): LineUse[] {
  const uses: LineUse[] = [];
  const add = (field: string, chip: string | undefined, line: number | undefined) => {
    if (line !== undefined) uses.push({ field, chip: chip ?? board.gpio.chip, line });
  };
  const relay = board.relay;
  if (relay.mode === 'strike') add('board.relay.strikeLine', relay.chip, relay.strikeLine);
  else {
    add('board.relay.unlockLine', relay.chip, relay.unlockLine);
    add('board.relay.lockLine', relay.chip, relay.lockLine);
    add('board.relay.lockedStop.line', relay.lockedStop.chip, relay.lockedStop.line);
    add('board.relay.unlockedStop.line', relay.unlockedStop.chip, relay.unlockedStop.line);
  }
  add('board.door.line', board.door.chip, board.door.line);
  if (board.wiegand) {
    add('board.wiegand.d0', board.wiegand.chip, board.wiegand.d0);
    add('board.wiegand.d1', board.wiegand.chip, board.wiegand.d1);
  }
  for (const name of ['exitButton', 'tamper', 'powerFail'] as const) {
    const input = board.inputs?.[name];
    if (input) add(`board.inputs.${name}.line`, input.chip, input.line);
  }
  const led = board.indicator?.led;
  if (led)
    for (const colour of ['red', 'green', 'blue'] as const)
      add(`board.indicator.led.${colour}`, led.chip, led[colour]);
  const buzzer = board.indicator?.buzzer;
  if (buzzer) add('board.indicator.buzzer.line', buzzer.chip, buzzer.line);
  return uses;
}

export interface OutputUse extends LineUse {
  activeLow: boolean;
}

/** Every output line (relay or motor, LEDs, buzzer) with the level that switches it on. */
export function outputUses(board: BoardConfig): OutputUse[] {
  const outputs: OutputUse[] = [];
  const add = (field: string, chip: string | undefined, line: number | undefined, activeLow: boolean) => {
    if (line !== undefined) outputs.push({ field, chip: chip ?? board.gpio.chip, line, activeLow });
  };
  const relay = board.relay;
  if (relay.mode === 'strike') add('board.relay.strikeLine', relay.chip, relay.strikeLine, relay.activeLow);
  else {
    add('board.relay.unlockLine', relay.chip, relay.unlockLine, relay.activeLow);
    add('board.relay.lockLine', relay.chip, relay.lockLine, relay.activeLow);
  }
  const { led, buzzer } = board.indicator;
  if (led)
    for (const colour of ['red', 'green', 'blue'] as const)
      add(`board.indicator.led.${colour}`, led.chip, led[colour], led.activeLow);
  if (buzzer) add('board.indicator.buzzer.line', buzzer.chip, buzzer.line, buzzer.activeLow);
  return outputs;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const field = ['board', ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${field}.${key}: unknown field`);
  // A bad record key carries the key's own issue inside.
  if (issue.code === 'invalid_key') return [`${field}: ${issue.issues[0]?.message ?? issue.message}`];
  return [`${field}: ${issue.message}`];
}

/** Validates a parsed board file; errors name each field, e.g. `board.relay.unlockLine: expected an integer 0..511`. */
export function parseBoardConfig(value: unknown, file = 'board.json'): BoardConfig {
  const result = boardSchema.safeParse(value);
  if (!result.success) throw new BoardConfigError(file, result.error.issues.flatMap(describeIssue));
  return result.data;
}

export async function loadBoardConfig(file: string): Promise<BoardConfig> {
  if (typeof file !== 'string' || file === '') throw new TypeError('file must be a non-empty string');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason =
      errorCode(error) === 'ENOENT' ? 'not found' : `unreadable (${errorCode(error) ?? errorMessage(error)})`;
    throw new BoardConfigError(file, [reason]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BoardConfigError(file, [`invalid JSON: ${errorMessage(error)}`]);
  }
  return parseBoardConfig(json, file);
}
