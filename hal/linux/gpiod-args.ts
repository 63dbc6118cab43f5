import type { InputRequest, LineAddress, LineValue } from './gpio-backend.ts';

/**
 * Command lines for the libgpiod tools. Debian 12 ships v1 (1.6.x): chip and
 * offsets are positional and gpioset needs `--mode=signal` to hold. v2 (Debian 13,
 * newer Raspberry Pi OS) takes `--chip`, holds by default, and numbers edges 1/2.
 */
export type GpiodMajor = 1 | 2;

/** Reads the major version from `gpioset --version` ("gpioset (libgpiod) v1.6.3"). */
export function parseGpiodVersion(output: string): GpiodMajor | undefined {
  const match = /\(libgpiod\)\s+v?(\d+)\.(\d+)/.exec(output) ?? /\bv(\d+)\.(\d+)/.exec(output);
  if (!match) return undefined;
  const major = Number(match[1]);
  if (major === 1) return 1;
  return major >= 2 ? 2 : undefined;
}

/** Holds one output line at `value` until the process is signalled. */
export function gpiosetArgs(
  major: GpiodMajor,
  address: LineAddress,
  value: LineValue,
  consumer: string,
): string[] {
  const assignment = `${address.line}=${value}`;
  if (major === 1) return ['--mode=signal', address.chip, assignment];
  return ['--chip', address.chip, '--consumer', consumer, assignment];
}

/** Reads one input line once (applying its bias). */
export function gpiogetArgs(major: GpiodMajor, request: InputRequest): string[] {
  if (major === 1) return [...biasArgs(major, request), request.chip, String(request.line)];
  return ['--chip', request.chip, ...biasArgs(major, request), String(request.line)];
}

/** Prints "<offset> <edge>" for every edge on one input line, a line at a time. */
export function gpiomonArgs(major: GpiodMajor, request: InputRequest, consumer: string): string[] {
  if (major === 1) {
    return [
      '--line-buffered',
      '--format=%o %e',
      ...biasArgs(major, request),
      request.chip,
      String(request.line),
    ];
  }
  return [
    '--chip',
    request.chip,
    '--consumer',
    consumer,
    '--format',
    '%o %e',
    ...biasArgs(major, request),
    String(request.line),
  ];
}

function biasArgs(major: GpiodMajor, request: InputRequest): string[] {
  if (request.bias === 'as-is') return [];
  if (major === 1) return [`--bias=${request.bias}`];
  // v2 spells "no bias" as `disabled`; the board file keeps v1's `disable`.
  return ['--bias', request.bias === 'disable' ? 'disabled' : request.bias];
}

/** Parses a gpiomon line into the line's new level; v1 numbers edges 1 rising / 0 falling, v2 1 / 2. */
export function parseEdgeLine(
  major: GpiodMajor,
  text: string,
): { line: number; value: LineValue } | undefined {
  const match = /^\s*(\d+)\s+(\d)\s*$/.exec(text);
  if (!match) return undefined;
  const edge = Number(match[2]);
  const falling = major === 1 ? 0 : 2;
  if (edge !== 1 && edge !== falling) return undefined;
  return { line: Number(match[1]), value: edge === 1 ? 1 : 0 };
}

/** Parses gpioget output: v1 prints "1"; v2 prints `"17"=active` (or `17=1` in numeric mode). */
export function parseGetOutput(text: string): LineValue | undefined {
  const match = /(?:^|=)\s*(active|inactive|1|0)\s*$/.exec(text.trim());
  if (!match) return undefined;
  return match[1] === 'active' || match[1] === '1' ? 1 : 0;
}

/** Parses `gpiodetect` output, the same in v1 and v2: `gpiochip0 [pinctrl-bcm2711] (58 lines)`. */
export function parseChipList(text: string): Array<{ name: string; label: string; lines: number }> {
  const chips: Array<{ name: string; label: string; lines: number }> = [];
  for (const row of text.split('\n')) {
    const match = /^\s*(gpiochip\d+)\s+\[(.*)\]\s+\((\d+) lines?\)\s*$/.exec(row);
    if (match) chips.push({ name: match[1]!, label: match[2]!, lines: Number(match[3]) });
  }
  return chips;
}
