import { type BoardConfig, outputUses } from './board-config.ts';

/** Chip labels of the BCM2835 family's header bank (Pi 1-3, Zero: bcm2835; Pi 4: bcm2711). */
export const BCM2835_HEADER_LABELS: ReadonlySet<string> = new Set(['pinctrl-bcm2835', 'pinctrl-bcm2711']);

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
 * Outputs (relay, motor, buzzer: an LED on during boot harms nothing) that a Pi would
 * switch ON during boot or after lockfw stops, given the board's active levels. Only
 * lines on a chip whose label is a BCM2835-family header bank are checked: `labels`
 * maps each /dev chip name of the (resolved) board to its label.
 */
export function outputsOnAtBoot(board: BoardConfig, labels: ReadonlyMap<string, string>): string[] {
  const warnings: string[] = [];
  for (const output of outputUses(board)) {
    if (output.field.startsWith('board.indicator.led.')) continue;
    if (!BCM2835_HEADER_LABELS.has(labels.get(output.chip) ?? '')) continue;
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
