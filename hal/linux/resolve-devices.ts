import { readdir, readFile } from 'node:fs/promises';
import type { BoardConfig } from './board-config.ts';
import { lineUses } from './board-config.ts';
import { DeviceMissingError } from './errors.ts';
import type { ChipInfo } from './gpio-backend.ts';
import { errorCode } from './log.ts';

const BY_NUMBER_CHIP = /^gpiochip\d+$/;
const BY_NUMBER_RTC = /^rtc\d+$/;

function listed(chips: readonly ChipInfo[]): string {
  if (chips.length === 0) return 'gpiodetect lists no GPIO chip';
  return `gpiodetect lists ${chips.map((chip) => `${chip.name} [${chip.label}]`).join(', ')}`;
}

/** The /dev name of the chip a board field names, by label or by number; one clear error if there is none. */
export function resolveChip(spec: string, field: string, chips: readonly ChipInfo[]): ChipInfo {
  if (BY_NUMBER_CHIP.test(spec)) {
    const chip = chips.find((candidate) => candidate.name === spec);
    if (!chip) throw new DeviceMissingError(field, `/dev/${spec}`, listed(chips));
    return chip;
  }
  const matches = chips.filter((chip) => chip.label === spec);
  if (matches.length === 0)
    throw new DeviceMissingError(field, `a GPIO chip labelled "${spec}"`, listed(chips));
  if (matches.length > 1) {
    throw new DeviceMissingError(
      field,
      `exactly one GPIO chip labelled "${spec}"`,
      `${matches.length} have that label; name one as gpiochipN`,
    );
  }
  return matches[0]!;
}

/** The board field that names a line's chip: `board.gpio.chip` unless the line's section overrides it. */
function chipField(use: { field: string }, board: BoardConfig, spec: string): string {
  return spec === board.gpio.chip ? 'board.gpio.chip' : use.field.replace(/\.[^.]+$/, '.chip');
}

/**
 * Replaces every chip label in the board with the /dev name it has on this machine,
 * refusing a label no chip has (a Pi 5 on an old kernel, where gpiochip0 is not the header).
 * Also returns each used chip's label, which decides whether the Pi's boot-pull table applies.
 */
export function resolveBoardChips(
  board: BoardConfig,
  chips: readonly ChipInfo[],
): { board: BoardConfig; labels: Map<string, string> } {
  const names = new Map<string, string>();
  const labels = new Map<string, string>();
  for (const use of lineUses(board)) {
    if (names.has(use.chip)) continue;
    const chip = resolveChip(use.chip, chipField(use, board, use.chip), chips);
    names.set(use.chip, chip.name);
    labels.set(chip.name, chip.label);
  }
  const map = (spec: string | undefined) => (spec === undefined ? undefined : (names.get(spec) ?? spec));
  const relay =
    board.relay.mode === 'strike'
      ? { ...board.relay, chip: map(board.relay.chip) }
      : {
          ...board.relay,
          chip: map(board.relay.chip),
          lockedStop: { ...board.relay.lockedStop, chip: map(board.relay.lockedStop.chip) },
          unlockedStop: { ...board.relay.unlockedStop, chip: map(board.relay.unlockedStop.chip) },
        };
  const { led, buzzer } = board.indicator;
  const resolved: BoardConfig = {
    ...board,
    gpio: { ...board.gpio, chip: map(board.gpio.chip)! },
    relay,
    door: { ...board.door, chip: map(board.door.chip) },
    ...(board.wiegand ? { wiegand: { ...board.wiegand, chip: map(board.wiegand.chip) } } : {}),
    inputs: Object.fromEntries(
      Object.entries(board.inputs).map(([name, input]) => [name, { ...input, chip: map(input.chip) }]),
    ),
    indicator: {
      ...(led ? { led: { ...led, chip: map(led.chip) } } : {}),
      ...(buzzer ? { buzzer: { ...buzzer, chip: map(buzzer.chip) } } : {}),
    },
  };
  return { board: resolved, labels };
}

/**
 * The rtcN a board's `rtc.device` names: `rtcN` as it is (if present), or the one RTC
 * whose driver (first word of /sys/class/rtc/rtcN/name) is the given name.
 */
export async function resolveRtc(spec: string, sysfsRoot: string): Promise<string> {
  const classDir = `${sysfsRoot}/class/rtc`;
  let entries: string[];
  try {
    entries = (await readdir(classDir)).filter((entry) => BY_NUMBER_RTC.test(entry)).sort();
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    entries = [];
  }
  const found = await Promise.all(
    entries.map(async (device) => {
      const name = await readFile(`${classDir}/${device}/name`, 'utf8').then(
        (text) => text.trim(),
        () => '',
      );
      return { device, name, driver: name.split(/\s+/)[0] ?? '' };
    }),
  );
  const hint = `${found.length === 0 ? 'no RTC is registered' : `found ${found.map((rtc) => `${rtc.device} [${rtc.name || '?'}]`).join(', ')}`}: enable the RTC overlay, e.g. dtoverlay=i2c-rtc,ds3231 in config.txt`;
  if (BY_NUMBER_RTC.test(spec)) {
    if (!entries.includes(spec))
      throw new DeviceMissingError('board.rtc.device', `${classDir}/${spec}`, hint);
    return spec;
  }
  const matches = found.filter((rtc) => rtc.driver === spec || rtc.name === spec);
  if (matches.length === 0)
    throw new DeviceMissingError('board.rtc.device', `an RTC named "${spec}" in ${classDir}`, hint);
  if (matches.length > 1) {
    throw new DeviceMissingError(
      'board.rtc.device',
      `exactly one RTC named "${spec}"`,
      `${matches.map((rtc) => rtc.device).join(', ')} have that name; name one as rtcN`,
    );
  }
  return matches[0]!.device;
}
