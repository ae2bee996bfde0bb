// Liveness and readiness for orchestrators.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { inject } from 'vitest';
import { createApp } from '../src/app.js';
import { createLogger, withRequestId } from '../src/logger.js';
import { liveGateway, post, sleep, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';

let gw: LiveGateway;
beforeAll(async () => { gw = await liveGateway(); });
afterAll(() => gw.stop());

it('GET /health answers while the process is up', async () => {
  const res = await fetch(gw.url.replace('/graphql', '/health'));
  expect(res.status).toBe(200);
});

it('GET /ready reports the database, migrations and change listener, and 503 when one is missing', async () => {
  const ready = await fetch(gw.url.replace('/graphql', '/ready'));
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ ready: true, database: true, migrations: true, changeListener: true });
  await gw.hub.stop();
  const notReady = await fetch(gw.url.replace('/graphql', '/ready'));
  expect(notReady.status).toBe(503);
  expect(await notReady.json()).toMatchObject({ ready: false, changeListener: false, database: true });
});

it('shutting down ends subscriptions with UNAVAILABLE and the last delivered cursor', async () => {
  const other = await liveGateway();
  const client = wsClient(other.wsUrl);
  const s = wsSubscribe(client, `subscription { inventoryChanged(skus: ["nothing-here"]) { cursor } }`);
  for (let i = 0; i < 100 && other.hub.subscriberCount === 0; i++) await sleep(20);
  await other.stop();
  await s.done;
  const errors = JSON.stringify(s.errors);
  expect(errors).toContain('UNAVAILABLE');
  expect(errors).toMatch(/"lastCursor":"\d+"/);
  await client.dispose();
});

it('GET /metrics exposes request durations, error codes, statements per decision, subscribers and feed health', async () => {
  await post(gw.url, `query Home { decisionContext(userId: "m", candidates: ["a", "b"]) { candidates { eligible } } }`);
  await post(gw.url, `{ decisionContext(userId: "", candidates: []) { candidates { eligible } } }`);
  const res = await fetch(gw.url.replace('/graphql', '/metrics'));
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toMatch(/gateway_request_duration_seconds_count\{[^}]*operation_type="query",root_field="decisionContext"[^}]*\} [1-9]/);
  expect(text).not.toContain('Home'); // labels come from the schema, never from names clients choose
  expect(text).toMatch(/gateway_errors_total\{[^}]*code="BAD_USER_INPUT"[^}]*\} [1-9]/);
  expect(text).toMatch(/gateway_sql_statements_per_decision_count\{[^}]*\} [1-9]/);
  expect(text).toMatch(/gateway_sql_statements_per_decision_sum\{[^}]*\} (\d+)/);
  expect(text).toMatch(/gateway_subscribers\{[^}]*\} \d+/);
  expect(text).toMatch(/gateway_change_log_dispatched_seq\{[^}]*\} \d+/);
  expect(text).toMatch(/gateway_change_log_read_age_seconds\{[^}]*\} [\d.]+/);
  expect(text).toMatch(/gateway_pool_max\{[^}]*\} 10/);
});

it('GET /metrics exposes the tail\'s causes (event-loop delay, GC pauses, snapshot wait); SERVER_TIMING answers carry Server-Timing', async () => {
  const timed = await liveGateway({ serverTiming: true });
  const decide = (url: string) => fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ decisionContext(userId: "m", candidates: ["a"]) { candidates { eligible } } }' }),
  });
  const res = await decide(timed.url);
  expect(res.status).toBe(200);
  const timing = res.headers.get('server-timing') ?? '';
  for (const phase of ['total', 'gc', 'queue', 'wait', 'read']) expect(timing).toMatch(new RegExp(`(^|, )${phase};dur=\\d+\\.\\d{2}`));
  expect((await decide(gw.url)).headers.get('server-timing')).toBeNull(); // off unless SERVER_TIMING
  // Some garbage, so a GC (young generation) has run and been observed; the event-loop sampler fires every 20 ms.
  let junk: unknown[] = [];
  for (let i = 0; i < 300_000; i++) junk.push({ i, s: `x${i}` });
  junk = [];
  await sleep(100);
  const text = await (await fetch(timed.url.replace('/graphql', '/metrics'))).text();
  expect(text).toMatch(/gateway_event_loop_delay_seconds_count\{[^}]*\} [1-9]/);
  expect(text).toMatch(/nodejs_gc_duration_seconds_bucket\{[^}]*le="0.0005"/);
  expect(text).toMatch(/gateway_snapshot_wait_seconds_count\{[^}]*\} [1-9]/);
  await timed.stop();
});

it('tags a request\'s access line with its request id, echoed in x-request-id', async () => {
  const lines: string[] = [];
  const logged = await liveGateway({}, undefined, createLogger('debug', { write: (l: string) => { lines.push(l); } }));
  const res = await fetch(logged.url, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-123' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  expect(res.headers.get('x-request-id')).toBe('req-123');
  const generated = (await fetch(logged.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }))
    .headers.get('x-request-id');
  expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  await sleep(50);
  const records = lines.map((l) => JSON.parse(l));
  expect(records.some((r) => r.requestId === 'req-123' && r.msg === 'request' && r.status === 200)).toBe(true);
  expect(records.some((r) => r.requestId === generated)).toBe(true);
  await logged.stop();
});

it('an unexpected error\'s log line names the request that raised it, with concurrent requests in flight', async () => {
  // A pool whose search_path hides the tables: every decision fails inside Postgres, unexpectedly.
  const admin = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
  await admin`create schema if not exists empty_for_request_ids`;
  const sql = postgres(inject('databaseUrl'), { max: 4, connection: { search_path: 'empty_for_request_ids' } });
  const lines: string[] = [];
  const logger = createLogger('info', { write: (l: string) => { lines.push(l); } });
  const server = createServer(withRequestId(logger, createApp({ sql, logger, production: true })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    const ids = Array.from({ length: 6 }, (_, i) => `req-err-${i}`);
    await Promise.all(ids.map(async (id, i) => {
      const res = await fetch(url, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ query: `query($u: ID!, $c: [ID!]!) { decisionContext(userId: $u, candidates: $c) { candidates { sku } } }`,
          variables: { u: `u${i}`, c: [`sku-${i}`] } }),
      });
      expect(((await res.json()) as any).errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    }));
    const unexpected = lines.map((l) => JSON.parse(l)).filter((r) => r.msg === 'unexpected error');
    expect(unexpected.map((r) => r.requestId).sort()).toEqual(ids);
  } finally {
    await new Promise((r) => server.close(r));
    await sql.end();
    await admin.end();
  }
});

it('introspection and GraphiQL can be switched off; batched requests are limited', async () => {
  const closed = await liveGateway({ introspection: false, graphiql: false, maxBatch: 2 });
  const intro = await post(closed.url, '{ __schema { types { name } } }');
  expect(intro.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  const page = await fetch(closed.url, { headers: { accept: 'text/html' } });
  expect(await page.text()).not.toMatch(/graphiql/i);
  const batch = (n: number) => fetch(closed.url, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: n }, () => ({ query: '{ __typename }' }))),
  });
  const two = await batch(2);
  expect(await two.json()).toEqual([{ data: { __typename: 'Query' } }, { data: { __typename: 'Query' } }]);
  const three = await batch(3);
  expect(three.status).toBeLessThan(500);
  expect(JSON.stringify(await three.json())).toMatch(/batch/i);
  await closed.stop();
});

it('a gateway that cannot listen fails its start (EADDRINUSE) instead of erroring later', async () => {
  const taken = await liveGateway();
  await expect(liveGateway({ port: taken.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  await taken.stop();
});

describe('CORS', () => {
  const probe = (url: string, origin: string, method = 'POST') => fetch(url, {
    method, headers: method === 'OPTIONS'
      ? { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' }
      : { origin, 'content-type': 'application/json' },
    body: method === 'OPTIONS' ? undefined : JSON.stringify({ query: '{ __typename }' }),
  });

  it('allows no other origin by default: nothing is reflected, preflights get no grant', async () => {
    for (const method of ['POST', 'OPTIONS']) {
      const res = await probe(gw.url, 'https://evil.example', method);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('grants exactly the origins in CORS_ORIGINS', async () => {
    const open = await liveGateway({ corsOrigins: ['https://shop.example', 'https://admin.example'] });
    for (const method of ['POST', 'OPTIONS']) {
      expect((await probe(open.url, 'https://shop.example', method)).headers.get('access-control-allow-origin')).toBe('https://shop.example');
      // (the library answers a refused origin with the literal "null", which no browser origin matches)
      expect(['https://evil.example', '*']).not.toContain((await probe(open.url, 'https://evil.example', method)).headers.get('access-control-allow-origin'));
    }
    const preflight = await probe(open.url, 'https://shop.example', 'OPTIONS');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect((await probe(open.url, 'https://shop.example')).headers.get('access-control-expose-headers')).toMatch(/x-consistency-token/);
    await open.stop();
  });
});
