import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = process.env.LOG_LEVEL || 'info'): Logger {
  return pino({ level, base: { service: 'decision-gateway' } });
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** yoga's logger interface on top of pino; arguments are only formatted when the level is on. */
export function yogaLogging(logger: Logger): Record<Level, (...args: unknown[]) => void> {
  const at = (level: Level) => (...args: unknown[]) => {
    if (logger.isLevelEnabled(level)) logger[level](args.map(String).join(' '));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
