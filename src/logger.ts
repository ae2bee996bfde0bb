// Structured JSON logs (pino). A request's lines (its access line, an unexpected
// error it raised) carry its request id. Not through AsyncLocalStorage: on Node 20
// its promise hooks cost ≈10% of the gateway's CPU per decision (bench:cpu-ab);
// the id travels with the request and its errors instead. Credentials in URLs
// never reach a log line: errors (a bad DATABASE_URL is echoed in `input`),
// URL-valued fields and message strings are redacted.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';

export type Logger = pino.Logger;

/** Request ids by node request (yoga's `req`), and by the errors raised while executing it. */
const requestIds = new WeakMap<object, string>();

/** The request id of a node request, or of an error tagged with one (tagRequestId); undefined otherwise. */
export const requestIdOf = (x: unknown): string | undefined => (x !== null && typeof x === 'object' ? requestIds.get(x) : undefined);

export function tagRequestId(x: object, id: string): void { requestIds.set(x, id); }

/**
 * Masks the password of every URL in `text` (`postgres://user:***@host:port/db`), and
 * `password=` parameters. Matches up to the last `@` of a URL, so a password with an
 * unescaped `@` or `/` (a malformed URL) is masked too; over-masking a host is the safe side.
 */
export function redactSecrets(text: string): string {
  if (!text.includes('://') && !/password=/i.test(text)) return text;
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)(\S*)@/gi, (_, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@`;
    })
    .replace(/([?&;\s]password=)[^&\s]*/gi, '$1***');
}

function redactStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactStrings(v, depth + 1);
  return out;
}

const URL_FIELDS = ['url', 'databaseUrl', 'database', 'DATABASE_URL', 'input', '*.url', '*.databaseUrl', '*.DATABASE_URL', '*.input'];

export function createLogger(level = process.env.LOG_LEVEL || 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'decision-gateway' },
    serializers: { err: (err: Error) => redactStrings(pino.stdSerializers.err(err)) },
    redact: { paths: URL_FIELDS, censor: (value) => (typeof value === 'string' ? redactSecrets(value) : value) },
    hooks: {
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = redactSecrets(args[i] as string);
        method.apply(this, args);
      },
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
    requestIds.set(req, id);
    if (logger.isLevelEnabled('debug')) {
      const t0 = performance.now();
      res.once('finish', () => logger.debug({ requestId: id, method: req.method, path: req.url, status: res.statusCode,
        ms: Math.round((performance.now() - t0) * 10) / 10 }, 'request'));
    }
    handler(req, res);
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
