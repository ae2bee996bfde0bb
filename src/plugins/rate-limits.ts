// Per-key rate limits on every transport: each operation counts (every one of
// a batch, each graphql-ws or SSE subscribe, POST and GET alike), checked
// after auth so the key is known. Past the limit: RATE_LIMITED, HTTP 429 and
// Retry-After; over graphql-ws and SSE the same error for that operation.
import type { Plugin } from 'graphql-yoga';
import type { RateLimiter } from '../auth/rate-limits.js';
import { UNGUARDED } from '../auth/roles.js';
import type { Context } from '../context.js';
import { DomainError, httpStatus } from '../errors.js';

export function useRateLimits(limiter: RateLimiter): Plugin {
  const check = async (contextValue: unknown): Promise<DomainError | null> => {
    const ctx = contextValue as Context & { request?: Request };
    const principal = ctx.principal ?? UNGUARDED;
    const verdict = await limiter.take(principal);
    if (verdict.ok) return null;
    const s = verdict.retryAfterS;
    // The HTTP status and header only over HTTP (yoga strips `http` there; graphql-ws would pass it on).
    return new DomainError('RATE_LIMITED', `This API key is over its rate limit (${verdict.spec.text}); retry in ${s} s`, {
      retryAfterSeconds: s, ...(ctx.request ? { http: httpStatus('RATE_LIMITED', { 'retry-after': String(s) }) } : {}),
    });
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const refused = await check(args.contextValue);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const refused = await check(args.contextValue);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}
