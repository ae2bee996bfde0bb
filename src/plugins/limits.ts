// Query limits (graphql-armor) and load shedding. Sized so the real
// decisionContext — every field, 1,000 candidates — passes, and abuse does not.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import type { Plugin } from 'graphql-yoga';
import { DomainError } from '../errors.js';

export interface LimitOptions {
  production: boolean;
  /** Concurrent non-streaming requests before answering 503 with Retry-After. */
  maxInFlight: number;
}

export function limitPlugins({ production, maxInFlight }: LimitOptions): Plugin[] {
  const armor = new EnvelopArmor({
    maxDepth: { n: 8, ignoreIntrospection: true },
    maxAliases: { n: 15 },
    maxDirectives: { n: 10 },
    maxTokens: { n: 4000 }, // 1,000 inline candidate ids plus the full selection fit
    costLimit: { maxCost: 2000, objectCost: 2, scalarCost: 1, depthCostFactor: 1.5, ignoreIntrospection: true },
    // Field suggestions help people exploring in GraphiQL; production hides the schema's shape.
    blockFieldSuggestion: { enabled: production },
  });
  return [...(armor.protect().plugins as Plugin[]), useLoadShedding(maxInFlight), useStreamingTransports()];
}

/** Past maxInFlight concurrent requests, answer 503 + Retry-After at once instead of queueing without bound. */
export function useLoadShedding(maxInFlight: number): Plugin {
  let inFlight = 0;
  const counted = new WeakSet<Request>();
  return {
    // Every GraphQL request counts, whatever its Accept: an SSE subscription stops counting once its
    // stream starts (onResponse); its lifetime is bounded by the subscription limits instead.
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!url.pathname.endsWith('/graphql')) return;
      if (inFlight >= maxInFlight) {
        endResponse(new fetchAPI.Response(JSON.stringify({
          errors: [{ message: 'The gateway is at capacity; retry shortly', extensions: { code: 'OVERLOADED' } }],
        }), { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '1' } }));
        return;
      }
      inFlight++;
      counted.add(request);
    },
    onResponse({ request }) {
      if (counted.delete(request)) inFlight--;
    },
  };
}

/**
 * A subscription over plain HTTP (JSON accept, or inside a batch) would get an
 * empty answer or a bare 406; say instead which transports carry it.
 */
export function useStreamingTransports(): Plugin {
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (!request || request.headers.get('accept')?.includes('text/event-stream')) return; // graphql-ws, SSE
      setResultAndStopExecution({ errors: [new DomainError('BAD_USER_INPUT',
        'Subscriptions need a streaming transport: graphql-ws, or SSE (POST with accept: text/event-stream, not in a batch)')] });
    },
  };
}
