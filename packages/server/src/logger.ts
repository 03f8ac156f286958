/** The root structured logger; nodes, sessions and rooms take child loggers from it. */
import { pino, type Logger } from 'pino';

export function createLogger(level = process.env['PARLEY_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { app: 'parley' } });
}
export type { Logger };
