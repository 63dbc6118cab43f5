export type HalLogLevel = 'info' | 'warn' | 'error';

/**
 * Structured log sink for the Linux drivers. Fields must never carry key presses,
 * codes or secrets: drivers log device names, paths and error codes only.
 */
export type HalLog = (
  level: HalLogLevel,
  module: string,
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** One JSON object a line on stdout (journald keeps it), in the firmware's log shape. */
export const jsonLog: HalLog = (level, module, msg, fields) => {
  const entry = { t: new Date().toISOString(), level, ns: `lockfw:hal:${module}`, msg, ...fields };
  process.stdout.write(`${JSON.stringify(entry)}\n`);
};

export const silentLog: HalLog = () => {};

/** The `code` of a Node system error (`ENODEV`, `EAGAIN`...), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
