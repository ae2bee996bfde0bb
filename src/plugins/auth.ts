// Authentication (API key → principal) and authorization (role → operations)
// over HTTP and SSE: the key comes as `Authorization: Bearer <key>`; graphql-ws
// (live/ws.ts) takes it from connectionParams and applies the same checks
// (auth/check.ts). Fails closed: until the keys were read once every request is
// UNAVAILABLE; with auth on, nothing executes without an active principal;
// a revoked key's open streams end with UNAUTHENTICATED. With no key ever
// created (and AUTH_REQUIRED off) the gateway is open (KeyStore logs it).
import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { authError, forbidden, httpOf, refusalOf } from '../auth/check.js';
import { OPEN, type KeyStore, type Principal } from '../auth/keys.js';
import type { Context } from '../context.js';

const OPEN_PATHS = new Set(['/health', '/ready', '/metrics', '/live', '/live/app.js']); // the board page is static; its API calls carry the key

export function useAuth(store: KeyStore, principals: WeakMap<Request, Principal>): Plugin {
  // Open streams by principal id, to end them when their key is revoked.
  const streams = new Map<string, Set<() => void>>();
  store.onRevoked((ids) => {
    for (const id of ids) for (const end of streams.get(id) ?? []) end();
  });
  const check = (args: { contextValue: unknown; document: DocumentNode; operationName?: string | null }) => {
    const principal = (args.contextValue as Context).principal;
    const why = refusalOf(store, principal);
    return why ? authError(why, true) : forbidden(principal ?? OPEN, args.document, args.operationName);
  };

  return {
    // GraphiQL's page (GET, text/html), when enabled, is answered by yoga before this hook; everything else needs a key.
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (OPEN_PATHS.has(url.pathname)) return;
      const who = store.authenticate(request.headers.get('authorization'));
      if (typeof who === 'string') {
        const { status, headers } = httpOf(who);
        endResponse(new fetchAPI.Response(JSON.stringify({ errors: [authError(who).toJSON()] }), {
          status, headers: { 'content-type': 'application/json', ...headers },
        }));
        return;
      }
      principals.set(request, who);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) {
        setResultAndStopExecution({ errors: [error] });
        return;
      }
      const principal = (args.contextValue as unknown as Context).principal;
      const id = principal?.id ?? OPEN.id;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          let enders = streams.get(id);
          if (!enders) streams.set(id, (enders = new Set()));
          const stream = untilRevoked(result, enders, () => { if (enders.size === 0) streams.delete(id); });
          setResult(stream.iterator);
          if (refusalOf(store, principal)) stream.end(); // revoked while the subscription was being set up
        },
      };
    },
  };
}

const isAsyncIterable = (x: unknown): x is AsyncIterable<ExecutionResult> =>
  typeof x === 'object' && x !== null && Symbol.asyncIterator in x;

/**
 * `source`, until an ender in `enders` is called: then one final result with
 * UNAUTHENTICATED and the end. return() (the client went away, or the end) is
 * passed on to `source`, so the hub releases its subscriber.
 */
function untilRevoked(source: AsyncIterable<ExecutionResult>, enders: Set<() => void>, released: () => void) {
  const it = source[Symbol.asyncIterator]();
  let state: 'open' | 'revoked' | 'done' = 'open';
  let wake!: () => void;
  const revoked = new Promise<'revoked'>((resolve) => { wake = () => resolve('revoked'); });
  const end = () => {
    if (state !== 'open') return;
    state = 'revoked';
    wake();
  };
  enders.add(end);
  const finish = async () => {
    state = 'done';
    enders.delete(end);
    released();
    await it.return?.().catch(() => {});
  };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next(): Promise<IteratorResult<ExecutionResult>> {
      if (state === 'open') {
        const step = it.next();
        step.catch(() => {}); // still pending when revoked; its outcome no longer matters
        const r = await Promise.race([step, revoked]);
        if (r !== 'revoked') {
          if (r.done) await finish();
          return r;
        }
      }
      if (state === 'revoked') {
        await finish();
        return { value: { errors: [authError('revoked')] }, done: false };
      }
      return { value: undefined, done: true };
    },
    async return(): Promise<IteratorResult<ExecutionResult>> {
      if (state !== 'done') await finish();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() { return this; },
  };
  return { iterator, end };
}
