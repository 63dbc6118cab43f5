import { parseFlags, requireFlag, UsageError } from '../cli.ts';

export const OUTPUTS_OFF_HELP = `Usage: lockfw outputs-off --board FILE

Drives every output of the board (relay or motor lines, LEDs, buzzer) to its off level
and lets go of it. It touches GPIO only (no keypad, RTC or store), so it works whatever
else is broken: lockfw.service runs it as ExecStopPost= after every stop or crash, and
'lockfw run --hal linux' does the same first thing at every start. Run it by hand with
the service stopped (a line lockfw holds is busy).

Prints one line per output. Exit status: 0 all off, 1 one or more could not be driven
(each named), 2 usage.`;

export async function outputsOffCommand(argv: string[]): Promise<number> {
  const command = 'lockfw outputs-off';
  const { values, positionals } = parseFlags(command, argv, {
    board: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${OUTPUTS_OFF_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const board = requireFlag(command, values.board, '--board', 'FILE');
  // Loaded only when asked for, like the Linux HAL in lockfw run.
  const { assertAllSafe, switchOutputsOff } = await import('../../hal/linux/index.ts');
  const results = await switchOutputsOff(board);
  for (const result of results) {
    if (result.error === undefined) process.stdout.write(`${result.field}: ${result.line} off\n`);
  }
  assertAllSafe(results);
  return 0;
}
