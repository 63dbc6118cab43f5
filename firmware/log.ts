export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

export interface LogSink {
  write(line: string): void;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(namespace: string): Logger;
}

/** Shared by every logger made from one root, so `log level` changes them all at once. */
export interface LogControl {
  level: LogLevel;
  sink: LogSink;
}

/**
 * Structured logs: one JSON object a line (journald-friendly), namespaced by module.
 * Callers pass ids and names, never PINs or secrets; fields named like secrets are
 * masked anyway, as a second line of defence.
 */
export function createLogger(namespace: string, control: LogControl): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[control.level]) return;
    const record = { t: new Date().toISOString(), level, ns: namespace, msg, ...maskSecrets(fields) };
    control.sink.write(JSON.stringify(record) + '\n');
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (child) => createLogger(`${namespace}:${child}`, control),
  };
}

const SECRET_FIELD = /pin|secret|key|token|password/i;

function maskSecrets(fields?: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) out[name] = SECRET_FIELD.test(name) ? '***' : value;
  return out;
}

export const stdoutSink: LogSink = { write: (line) => process.stdout.write(line) };
export const nullSink: LogSink = { write: () => undefined };
