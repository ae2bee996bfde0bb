// Structured JSON logs (pino). Every line written while a request is handled
// carries its request id, through AsyncLocalStorage — error logs from deep in
// the stack included — without passing a logger around.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';

export type Logger = pino.Logger;

const requestIds = new AsyncLocalStorage<string>();

export function createLogger(level = process.env.LOG_LEVEL || 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'decision-gateway' },
    mixin: () => {
      const requestId = requestIds.getStore();
      return requestId ? { requestId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Runs a request handler with a request id (the caller's x-request-id when sane), echoed in the response. */
export function withRequestId(logger: Logger, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', id);
    requestIds.run(id, () => {
      if (logger.isLevelEnabled('debug')) {
        const t0 = performance.now();
        res.once('finish', () => logger.debug({ method: req.method, path: req.url, status: res.statusCode,
          ms: Math.round((performance.now() - t0) * 10) / 10 }, 'request'));
      }
      handler(req, res);
    });
  };
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** yoga's logger interface on top of pino; arguments are only formatted when the level is on. */
export function yogaLogging(logger: Logger): Record<Level, (...args: unknown[]) => void> {
  const at = (level: Level) => (...args: unknown[]) => {
    if (logger.isLevelEnabled(level)) logger[level](args.map(String).join(' '));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
