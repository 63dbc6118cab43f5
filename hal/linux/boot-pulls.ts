import type { BoardConfig } from './board-config.ts';

/**
 * Power-on pulls of the Pi header GPIOs on the BCM2835 family (BCM2835/6/7, BCM2711):
 * GPIO0-8 pull up, GPIO9-27 pull down (BCM2835 ARM Peripherals, table 6-31). Until
 * lockfw holds its lines, and whenever a line is released, an output sits at this
 * level, so an output is only safe where this level is its inactive level.
 */
export function bootPull(line: number): 'up' | 'down' | undefined {
  if (!Number.isInteger(line) || line < 0 || line > 27) return undefined;
  return line <= 8 ? 'up' : 'down';
}

/**
 * Outputs that a Pi would switch ON during boot or after lockfw stops, given the
 * board's active levels. Only meaningful for the header bank (gpiochip0 on a
 * BCM2835-family Pi); other chips are left alone.
 */
export function outputsOnAtBoot(board: BoardConfig): string[] {
  const outputs: Array<{ field: string; chip: string; line: number; activeLow: boolean }> = [];
  const chipOf = (chip: string | undefined) => chip ?? board.gpio.chip;
  const relay = board.relay;
  if (relay.mode === 'strike') {
    outputs.push({
      field: 'board.relay.strikeLine',
      chip: chipOf(relay.chip),
      line: relay.strikeLine,
      activeLow: relay.activeLow,
    });
  } else {
    outputs.push(
      {
        field: 'board.relay.unlockLine',
        chip: chipOf(relay.chip),
        line: relay.unlockLine,
        activeLow: relay.activeLow,
      },
      {
        field: 'board.relay.lockLine',
        chip: chipOf(relay.chip),
        line: relay.lockLine,
        activeLow: relay.activeLow,
      },
    );
  }
  const buzzer = board.indicator.buzzer;
  if (buzzer)
    outputs.push({
      field: 'board.indicator.buzzer.line',
      chip: chipOf(buzzer.chip),
      line: buzzer.line,
      activeLow: buzzer.activeLow,
    });
  const warnings: string[] = [];
  for (const output of outputs) {
    if (output.chip !== 'gpiochip0') continue;
    const pull = bootPull(output.line);
    if (pull === undefined) continue;
    if ((pull === 'down') === output.activeLow) {
      warnings.push(
        `${output.field}: GPIO${output.line} is pulled ${pull} at power-on, which is the ${output.activeLow ? 'active-low' : 'active-high'} ON level; it will switch on during boot (see docs/hardware.md)`,
      );
    }
  }
  return warnings;
}
