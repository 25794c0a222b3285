import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

/** LOG_LEVEL's values (Nest's names, as before pino) and the pino level each one means. */
export const LOG_LEVELS = { error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

/**
 * The root logger: JSON lines on stdout (`{"level":"info","time":…,"pid":…,"context":…,"msg":…}`),
 * written synchronously so the line before a crash or a SIGKILL is not lost. A line about a
 * transaction carries `txId` (and `branch`): its code logs `lineAbout(…)` objects, or names it by
 * the house convention `transaction <id>: …`.
 */
export function createRootLogger(
  level: LogLevelName,
  destination: DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  return pino(
    {
      level: LOG_LEVELS[level],
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Nest's logger interface on pino: Nest's `context` argument becomes a field of the line. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly root: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /**
   * Nest calls `error(message, stack?, context?)` and the others `(message, context?)`: the last
   * string argument is the context, a string before it (error only) the stack.
   */
  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.root.isLevelEnabled(level)) return;
    const strings = params.filter((p): p is string => typeof p === 'string');
    const context = strings.length > 0 ? strings[strings.length - 1] : undefined;
    const stack = level === 'error' && strings.length > 1 ? strings[0] : undefined;
    const fields: Record<string, unknown> = { context, stack };
    if (message instanceof Error) {
      this.root[level]({ ...fields, err: message }, message.message);
    } else if (message !== null && typeof message === 'object') {
      this.root[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      const text = String(message);
      // a line that names its transaction by the house convention `transaction <id>: …` (the sweeper,
      // the engine's bookkeeping): the id becomes the field too
      const named = /^transaction ([0-9A-Za-z_.:-]+):/.exec(text);
      this.root[level](named ? { ...fields, txId: named[1] } : fields, text);
    }
  }
}
