// Query limits (graphql-armor) and load shedding. Sized so the real
// decisionContext — every field, 1,000 candidates — passes, and abuse does not.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import type { Plugin } from 'graphql-yoga';
import { DomainError, ERRORS, type ErrorCode } from '../errors.js';

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
  return [useNestingLimit(), ...(armor.protect().plugins as Plugin[]), useLoadShedding(maxInFlight), useStreamingTransports()];
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
          errors: [{ message: 'The gateway is at capacity; retry shortly', extensions: { code: 'OVERLOADED' satisfies ErrorCode } }],
        }), { status: ERRORS.OVERLOADED.status, headers: { 'content-type': 'application/json', 'retry-after': '1' } }));
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
 * empty answer or a bare 406, and stay registered with nothing to read it; say
 * instead which transports carry it.
 */
export function useStreamingTransports(): Plugin {
  // Media types compared as such: split on commas, parameters dropped, any case (yoga's SSE match, less */* and text/*).
  const acceptsEventStream = (accept: string | null) =>
    accept?.split(',').some((type) => type.split(';')[0]!.trim().toLowerCase() === 'text/event-stream') ?? false;
  const isStream = (x: unknown): x is AsyncIterable<unknown> =>
    typeof (x as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
  const batches = new WeakSet<Request>(); // requests whose body is a batch (a JSON array)
  const refusal = () => new DomainError('BAD_USER_INPUT',
    'Subscriptions need a streaming transport: graphql-ws, or SSE (POST with accept: text/event-stream, not in a batch)');
  const end = async (stream: AsyncIterable<unknown>) => {
    try {
      await stream[Symbol.asyncIterator]().return?.();
    } catch { /* ended is all that matters */ }
  };
  return {
    onRequestParse: ({ request }) => ({
      onRequestParseDone({ requestParserResult }) {
        if (Array.isArray(requestParserResult)) batches.add(request);
      },
    }),
    onSubscribe({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (!request) return; // graphql-ws
      if (acceptsEventStream(request.headers.get('accept')) && !batches.has(request)) return; // SSE
      setResultAndStopExecution({ errors: [refusal()] });
    },
    // Safety net: a stream that will not be served (no result processor took it, or it sits in a batch,
    // whose answer is one JSON value) would stay registered with nothing to read it. End it.
    onResultProcess({ result, resultProcessor, setResult }) {
      if (Array.isArray(result)) {
        if (result.some(isStream)) setResult(result.map((r) => (isStream(r) ? (void end(r), { errors: [refusal()] }) : r)));
      } else if (isStream(result) && !resultProcessor) {
        void end(result);
      }
    },
  };
}

/** Deepest nesting of lists and objects a document or its variables may have (a real decision needs 7). */
export const MAX_NESTING = 32;

const tooDeep = (where: string) => new DomainError('BAD_USER_INPUT',
  `${where} nests lists or objects more than ${MAX_NESTING} levels deep`);

/** Nesting depth of brackets and braces in a GraphQL source, outside strings and comments. */
export function sourceDepth(source: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        let end = source.indexOf('"""', i + 3);
        while (end > 0 && source[end - 1] === '\\') end = source.indexOf('"""', end + 3); // \""" is escaped
        i = end < 0 ? source.length : end + 2;
      } else {
        for (i++; i < source.length && source[i] !== '"' && source[i] !== '\n' && source[i] !== '\r'; i++) if (source[i] === '\\') i++;
      }
    } else if (c === '[' || c === '{' || c === '(') {
      if (++depth > max) max = depth;
    } else if (c === ']' || c === '}' || c === ')') {
      depth--;
    }
  }
  return max;
}

function valueDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > limit) return max; // no need to walk the rest
    if (v !== null && typeof v === 'object') for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/**
 * graphql-js parses and coerces values recursively: a list nested thousands
 * of levels deep overflows the stack (an INTERNAL error with a stack trace)
 * while staying under the token limit. Refuse it first, as bad input.
 */
export function useNestingLimit(): Plugin {
  return {
    // HTTP: refuse before parsing, as a result of its own (errors thrown by parse lose their code).
    onParams({ params, setResult }) {
      const refused = params.query ? documentTooDeep(params.query) : null;
      if (refused) setResult({ errors: [refused] });
    },
    // Variables are coerced inside execute, on every transport: check them just before.
    onExecute({ args, setResultAndStopExecution }) {
      if (args.variableValues && valueDepth(args.variableValues, MAX_NESTING) > MAX_NESTING) setResultAndStopExecution({ errors: [tooDeep('variables')] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (args.variableValues && valueDepth(args.variableValues, MAX_NESTING) > MAX_NESTING) setResultAndStopExecution({ errors: [tooDeep('variables')] });
    },
  };
}

/** The refusal for a document nested too deeply, or null: each transport asks before it parses (graphql-ws in live/ws.ts). */
export const documentTooDeep = (source: string) => (sourceDepth(source) > MAX_NESTING ? tooDeep('The document') : null);
