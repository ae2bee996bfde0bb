// Per-key rate limits on every transport: each operation counts (every one of
// a batch, each graphql-ws or SSE subscribe, POST and GET alike), checked
// after auth so the key is known, and before parse and validation, so a
// document that fails them (most of an operation's CPU) counts too. Past the
// limit: RATE_LIMITED, HTTP 429 and Retry-After; over graphql-ws and SSE the
// same error for that operation.
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/keys.js';
import type { RateLimiter } from '../auth/rate-limits.js';
import { UNGUARDED } from '../auth/roles.js';
import type { Context } from '../context.js';
import { DomainError, httpStatus } from '../errors.js';

/** Operations already counted before execution (HTTP in onParams, graphql-ws in live/ws.ts): execute does not count them again. */
const counted = new WeakSet<object>();
export const markRateCounted = (contextValue: object) => { counted.add(contextValue); };

/** Takes one operation from the principal's limit; the refusal, or null. `http`: with the status and Retry-After yoga answers with. */
export async function rateRefusal(limiter: RateLimiter, principal: Principal, http: boolean): Promise<DomainError | null> {
  const verdict = await limiter.take(principal);
  if (verdict.ok) return null;
  const s = verdict.retryAfterS;
  // The HTTP status and header only over HTTP (yoga strips `http` there; graphql-ws would pass it on).
  return new DomainError('RATE_LIMITED', `This API key is over its rate limit (${verdict.spec.text}); retry in ${s} s`, {
    retryAfterSeconds: s, ...(http ? { http: httpStatus('RATE_LIMITED', { 'retry-after': String(s) }) } : {}),
  });
}

/** `principals`: the keys plugins/auth.ts admitted, by request (absent with no key store: every caller is UNGUARDED). */
export function useRateLimits(limiter: RateLimiter, principals: WeakMap<Request, Principal>): Plugin {
  const atExecution = async (contextValue: unknown): Promise<DomainError | null> => {
    if (counted.has(contextValue as object)) return null;
    const ctx = contextValue as Context & { request?: Request };
    return rateRefusal(limiter, ctx.principal ?? UNGUARDED, !!ctx.request);
  };
  return {
    // HTTP (POST, GET, each batch entry, SSE): before the document is parsed or validated.
    async onParams({ request, context, setResult }) {
      const refused = await rateRefusal(limiter, principals.get(request) ?? UNGUARDED, true);
      counted.add(context);
      if (refused) setResult({ errors: [refused] });
    },
    async onExecute({ args, setResultAndStopExecution }) {
      const refused = await atExecution(args.contextValue);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const refused = await atExecution(args.contextValue);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}
