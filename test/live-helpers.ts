// Real clients for the live tests: graphql-ws over WebSocket and GraphQL over SSE.
import { createClient, type Client } from 'graphql-ws';
import { inject } from 'vitest';
import WebSocket from 'ws';
import { createSql, type Sql } from '../src/db/client.js';
import { startGateway, type Gateway, type GatewayConfig, type GatewayOptions } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { StreamEnd, type Delivery } from '../src/live/hub.js';
import { sleep } from '../src/util.js';
import { sseEvents } from './raw-clients.js';

export interface LiveGateway extends Gateway { sql: Sql; feedSql: Sql; writeSql: Sql; url: string; wsUrl: string; stop(): Promise<void> }

export interface LiveOptions extends Omit<GatewayOptions, 'feedSql' | 'writeSql'> {
  /** The write pool's size and queue (default 4 + 100: tests run many gateways at once); 'shared': mutations use the snapshot pool. */
  writePool?: { poolMax: number; poolQueueMax?: number } | 'shared';
}

export async function liveGateway(
  overrides: Partial<GatewayConfig> = {}, url = inject('databaseUrl'), logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  { writePool, ...options }: LiveOptions = {},
): Promise<LiveGateway> {
  const sql = createSql(url, { poolMax: 10, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 });
  const feedSql = createSql(url, { poolMax: 2, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 });
  const writeSql = writePool === 'shared' ? sql
    : createSql(url, { poolMax: 4, ...writePool, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000, pool: 'write pool' });
  const gw = await startGateway(sql, {
    port: 0, host: '127.0.0.1', liveBufferLimit: 10_000, livePollMs: 1000,
    changeLogRetentionSeconds: 86_400, changeLogPruneSeconds: 0, production: false, maxInFlight: 256, poolMax: 10,
    graphiql: true, introspection: true, maxBatch: 10,
    authRequired: false, wsMaxPayloadBytes: 1024 * 1024, wsMaxSubscriptions: 100, wsMaxSocketsPerKey: 50, ...overrides,
  }, logger, { ...options, feedSql, writeSql: writeSql === sql ? undefined : writeSql });
  return {
    ...gw, sql, feedSql, writeSql,
    url: `http://127.0.0.1:${gw.port}/graphql`,
    wsUrl: `ws://127.0.0.1:${gw.port}/graphql`,
    async stop() {
      await gw.close();
      await Promise.all([sql.end({ timeout: 5 }), feedSql.end({ timeout: 5 }), writeSql !== sql && writeSql.end({ timeout: 5 })]);
    },
  };
}

export interface Stream<T> {
  items: T[];
  errors: unknown[];
  done: Promise<void>;
  /** Resolves once `n` items have arrived (or rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<T[]>;
  close(): void;
}

function collector<T>(): Stream<T> & { push(x: T): void; fail(e: unknown): void; finish(): void } {
  const items: T[] = [];
  const errors: unknown[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  const waiters = new Set<() => void>();
  return {
    items, errors, done, close: () => {},
    push(x) { items.push(x); for (const w of waiters) w(); },
    fail(e) { errors.push(e); for (const w of waiters) w(); },
    finish() { finish(); for (const w of waiters) w(); },
    waitFor(n, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (items.length >= n) { waiters.delete(check); clearTimeout(t); resolve(items.slice(0, n)); }
        };
        const t = setTimeout(() => { waiters.delete(check); reject(new Error(`got ${items.length}/${n} items; errors: ${JSON.stringify(errors)}`)); }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

export function wsClient(url: string, connectionParams?: Record<string, unknown>): Client {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams });
}

/** Subscribe over graphql-ws; items are the `data` of each result. */
export function wsSubscribe<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}): Stream<T> {
  const c = collector<T>();
  const dispose = client.subscribe<any>({ query, variables }, {
    next: (r) => (r.errors ? c.fail(r.errors) : c.push(r.data as T)),
    error: (e) => { c.fail(e); c.finish(); },
    complete: () => c.finish(),
  });
  c.close = dispose;
  return c;
}

/** Subscribe over SSE (POST, accept: text/event-stream); items are the `data` of each `next` event. */
export function sseSubscribe<T = any>(
  url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {},
): Stream<T> & { ready: Promise<Response> } {
  const c = collector<T>();
  const abort = new AbortController();
  const ready = fetch(url, {
    method: 'POST', signal: abort.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  void (async () => {
    try {
      for await (const { event, data } of sseEvents(await ready)) {
        if (event === 'next' && data) {
          const r = JSON.parse(data);
          if (r.errors) c.fail(r.errors); else c.push(r.data);
        }
        if (event === 'complete') c.finish();
      }
    } catch (e) {
      if (!abort.signal.aborted) c.fail(e);
    } finally {
      c.finish();
    }
  })();
  return Object.assign(c, { ready, close: () => abort.abort() });
}

export async function post(url: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return res.json() as Promise<any>;
}

/** POST with headers; returns the status and the parsed body. */
export async function postAs(url: string, headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: (await res.json()) as any };
}

export { sleep };

/** Waits until `cond` holds, or fails the test after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Reads a hub subscription to its end: the seqs it delivered, then the error it ended with (if any). */
export async function drain(sub: AsyncIterator<Delivery>, seqs: number[] = []): Promise<{ seqs: number[]; end?: StreamEnd }> {
  let end: StreamEnd | undefined;
  for (;;) {
    const { value, done } = await sub.next();
    if (done) return { seqs, end };
    if (value instanceof StreamEnd) end = value; else seqs.push(value.seq);
  }
}
