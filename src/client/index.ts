// Resumable subscriptions to this gateway's live feed, for Node and browsers.
// A plain graphql-ws client resubscribes after a reconnect with the variables it
// was first given, so changes committed meanwhile are skipped (or replayed twice),
// and it gives up after a few attempts. This one resumes every subscription from
// the last cursor it delivered, after any close or stream-ending error, until
// disposed; it stops only on errors that retrying cannot fix (a bad key: 4401).
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import type { ErrorCode } from '../errors.js';

export interface LiveRequest {
  /** A subscription declaring `$after: String` and selecting `cursor`, e.g. `inventoryChanged(after: $after) { cursor … }`. */
  query: string;
  /**
   * The query's trusted-document hash (TRUSTED_DOCUMENTS=allow|only): sent as extensions.persistedQuery with an
   * empty query instead of the text (the text is still what `$after` is checked in).
   */
  sha256Hash?: string;
  variables?: Record<string, unknown>;
  /** Where to start: a `snapshot.cursor` (or any delivered cursor). Without it, `resync` is called first. */
  after?: string;
  /**
   * Re-reads your state and returns its `snapshot.cursor`: at the start without `after`, and on CURSOR_EXPIRED.
   * A throw is retried with backoff, unless the error has a `code` that would not change on retry
   * (`UNAUTHENTICATED`, `FORBIDDEN`, `BAD_USER_INPUT`, …): then the subscription ends with it.
   */
  resync?: () => Promise<string> | string;
}

export interface LiveSink<T> {
  /** Each change exactly once, in commit order. */
  next(change: T): void;
  /** The subscription has ended for good (bad key, invalid query, CURSOR_EXPIRED without `resync`). */
  error?(err: LiveError): void;
}

export interface LiveClientOptions extends Omit<ClientOptions, 'retryAttempts' | 'shouldRetry' | 'retryWait'> {
  /** First retry delay; doubles per failed attempt up to `maxRetryDelayMs` (each with jitter). */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface LiveClient {
  /** Returns a function that ends this subscription. */
  subscribe<T extends { cursor: string } = any>(request: LiveRequest, sink: LiveSink<T>): () => void;
  on: Client['on'];
  dispose(): Promise<void>;
}

export class LiveError extends Error {
  /** A GraphQL error code (`FORBIDDEN`, `CURSOR_EXPIRED`, …) or a WebSocket close code (4401). */
  constructor(message: string, readonly code: string | number) {
    super(message);
    this.name = 'LiveError';
  }
}

const FATAL_CODES = new Set<ErrorCode>(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN',
  'TRUSTED_DOCUMENT_REQUIRED', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE']);
// Bad request, bad or revoked key, forbidden, wrong subprotocol: the same socket would get the same answer.
const FATAL_CLOSES = new Set([4400, 4401, 4403, 4406]);

type GqlError = { message: string; extensions?: { code?: unknown } };

export function createLiveClient(options: LiveClientOptions): LiveClient {
  const { minRetryDelayMs = 250, maxRetryDelayMs = 5000, ...clientOptions } = options;
  // No retries inside graphql-ws: every close reaches the subscription, which resumes from its own cursor.
  const client = createClient({ ...clientOptions, retryAttempts: 0 });
  const open = new Set<() => void>();
  return {
    on: client.on,
    subscribe(request, sink) {
      const stop = resumable(client, request, sink, minRetryDelayMs, maxRetryDelayMs, () => open.delete(stop));
      open.add(stop);
      return stop;
    },
    async dispose() {
      for (const stop of [...open]) stop();
      await client.dispose();
    },
  };
}

function resumable<T extends { cursor: string }>(
  client: Client, request: LiveRequest, sink: LiveSink<T>, minDelay: number, maxDelay: number, forget: () => void,
): () => void {
  if (!/\$after\b/.test(request.query)) throw new TypeError('the subscription must declare $after and pass it as the field\'s after argument');
  if (request.after === undefined && !request.resync) {
    throw new TypeError('pass after (a snapshot.cursor) or resync: without a starting cursor a reconnect could lose changes');
  }
  let cursor = request.after;
  let mustResync = cursor === undefined;
  let stopped = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let unsubscribe: (() => void) | undefined;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe?.();
    forget();
  };
  const fail = (err: LiveError) => {
    stop();
    if (sink.error) sink.error(err);
    else console.error(`live subscription ended: ${err.message}`);
  };
  const retry = (startedAt: number) => {
    if (stopped) return;
    if (Date.now() - startedAt > maxDelay) failures = 0; // it was up for a while: start the backoff over
    const delay = Math.min(maxDelay, minDelay * 2 ** failures++);
    timer = setTimeout(attempt, delay / 2 + (Math.random() * delay) / 2);
  };

  async function attempt(): Promise<void> {
    const startedAt = Date.now();
    if (mustResync) {
      try {
        cursor = await request.resync!();
        mustResync = false;
      } catch (err) {
        // A bad key would fail every retry the same way: end, rather than retry silently for ever.
        const code = (err as { code?: unknown } | null)?.code;
        if (typeof code === 'string' && FATAL_CODES.has(code as ErrorCode)) {
          return fail(err instanceof LiveError ? err : new LiveError(`resync: ${(err as Error).message}`, code));
        }
        return retry(startedAt);
      }
      if (stopped) return; // resync may have started everything over
    }
    // graphql-ws re-sends this very object if it ever resubscribes by itself: keep its cursor current.
    const payload = request.sha256Hash
      ? { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: request.sha256Hash } }, variables: { ...request.variables, after: cursor } }
      : { query: request.query, variables: { ...request.variables, after: cursor } };
    let ended = false;
    const end = (then: () => void) => {
      if (ended || stopped) return;
      ended = true;
      unsubscribe?.();
      then();
    };
    const onErrors = (errors: readonly GqlError[]) => {
      const codes = errors.map((e) => e.extensions?.code);
      if (codes.includes('CURSOR_EXPIRED') && request.resync) {
        mustResync = true; // re-read state, then continue from its snapshot
        return retry(startedAt);
      }
      const fatal = codes.find((c): c is ErrorCode => c === 'CURSOR_EXPIRED' || FATAL_CODES.has(c as ErrorCode));
      if (fatal || codes.length === 0 || codes.some((c) => typeof c !== 'string')) {
        return fail(new LiveError(errors[0]?.message ?? 'subscription refused', fatal ?? 'UNKNOWN'));
      }
      retry(startedAt); // SLOW_CONSUMER, UNAVAILABLE (shutdown), OVERLOADED, …: resume from the cursor
    };
    unsubscribe = client.subscribe<Record<string, T>>(payload, {
      next: (result) => {
        if (ended || stopped) return;
        if (result.errors?.length) return end(() => onErrors(result.errors as GqlError[]));
        const change = Object.values(result.data ?? {})[0];
        if (typeof change?.cursor !== 'string') {
          return end(() => fail(new LiveError('select cursor in the subscription: resuming needs it', 'NO_CURSOR')));
        }
        cursor = change.cursor;
        payload.variables.after = cursor;
        failures = 0;
        sink.next(change);
      },
      error: (err) => end(() => {
        if (Array.isArray(err)) return onErrors(err as GqlError[]);
        const close = err as { code?: unknown; reason?: string };
        if (typeof close.code === 'number' && FATAL_CLOSES.has(close.code)) {
          return fail(new LiveError(close.reason || `connection closed with ${close.code}`, close.code));
        }
        retry(startedAt); // the gateway went away (restart, network): reconnect and resume
      }),
      complete: () => end(() => retry(startedAt)),
    });
  }

  void attempt();
  return stop;
}
