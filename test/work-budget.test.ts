// One caller's work is bounded whatever shape it takes: candidates × aliases ×
// batched operations per request, and candidate evaluations in flight per key.
// Refusals carry LIMIT_EXCEEDED and name the setting to lower.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.js';
import { createSql } from '../src/db/client.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { candidateCost } from '../src/plugins/work-budget.js';
import { parse } from 'graphql';
import { ownDatabase } from './helpers.js';
import { liveGateway, postAs, sleep, wsClient, type LiveGateway } from './live-helpers.js';

const ids = (n: number, p = 'c') => Array.from({ length: n }, (_, i) => `${p}${i}`);
const aliased = (aliases: number, candidates: number) =>
  `{ ${Array.from({ length: aliases }, (_, i) => `d${i}: decisionContext(userId: "u", candidates: ${JSON.stringify(ids(candidates))}) { candidates { sku } }`).join(' ')} }`;

let gw: LiveGateway;
beforeAll(async () => { gw = await liveGateway(); });
afterAll(() => gw.stop());

const post = async (body: unknown) => {
  const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any, bytes: Number(res.headers.get('content-length') ?? 0) };
};

describe('candidate cost of a document', () => {
  it('counts literal and variable lists, aliases, fragments and inline fragments', () => {
    const doc = parse(`query Q($c: [ID!]!) { a: decisionContext(userId: "u", candidates: ["x", "y"]) { snapshot { id } }
      b: decisionContext(userId: "u", candidates: $c) { snapshot { id } } ...F ... on Query { decisionContext(userId: "u", candidates: ["z"]) { snapshot { id } } } }
      fragment F on Query { f: decisionContext(userId: "u", candidates: ["1", "2", "3"]) { snapshot { id } } }`);
    expect(candidateCost(doc, 'Q', { c: ids(5) })).toBe(2 + 5 + 3 + 1);
    expect(candidateCost(parse('mutation { recordEvents(events: []) { accepted } }'), undefined, {})).toBe(0);
  });
});

describe('per HTTP request', () => {
  it('refuses 10 batched operations × 15 aliases × 1,000 candidates at once, with a small answer that names the setting', async () => {
    const query = `query($c: [ID!]!) { ${Array.from({ length: 15 }, (_, i) => `d${i}: decisionContext(userId: "u", candidates: $c) { candidates { sku } }`).join(' ')} }`;
    const t0 = performance.now();
    const res = await post(Array.from({ length: 10 }, () => ({ query, variables: { c: ids(1000) } })));
    const ms = performance.now() - t0;
    for (const r of res.body) {
      expect(r.errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
      expect(r.errors[0].message).toMatch(/MAX_REQUEST_CANDIDATES/);
      expect(r.data ?? null).toBeNull();
    }
    expect(JSON.stringify(res.body).length).toBeLessThan(20_000);
    expect(ms).toBeLessThan(2000);
  });

  it('lets 2,000 candidates through (two aliases of 1,000) and refuses one more, in one document or across a batch', async () => {
    expect((await post({ query: aliased(2, 1000) })).body.errors).toBeUndefined();
    expect((await post({ query: aliased(3, 700) })).body.errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
    const batch = (await post([{ query: aliased(1, 1000) }, { query: aliased(1, 1000) }, { query: aliased(1, 1) }])).body;
    expect(batch[0].errors).toBeUndefined();
    expect(batch[1].errors).toBeUndefined();
    expect(batch[2].errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
  });

  it('counts a variable left to its default value', async () => {
    const query = `query($c: [ID!] = ${JSON.stringify(ids(1000))}) { ${[0, 1, 2].map((i) => `d${i}: decisionContext(userId: "u", candidates: $c) { candidates { sku } }`).join(' ')} }`;
    const res = await post({ query });
    expect(res.body.errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
    expect(res.body.errors[0].message).toMatch(/3000 candidate evaluations/);
  });

  it('applies to one graphql-ws message too', async () => {
    const client = wsClient(gw.wsUrl);
    const result = await new Promise<any>((resolve) => {
      client.subscribe({ query: aliased(3, 700) }, { next: resolve, error: resolve, complete: () => {} });
    });
    expect(result.errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
    await client.dispose();
  });
});

describe('per key in flight', () => {
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let small: Gateway;
  let sql: ReturnType<typeof createSql>;
  let url: string;
  const keys: string[] = [];
  beforeAll(async () => {
    db = await ownDatabase();
    sql = createSql(db.url, { poolMax: 1, poolQueueMax: 100, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 });
    small = await startGateway(sql, {
      port: 0, host: '127.0.0.1', liveBufferLimit: 100, livePollMs: 1000, changeLogRetentionSeconds: 86_400, changeLogPruneSeconds: 0,
      production: false, maxInFlight: 256, poolMax: 1, graphiql: false, introspection: true, maxBatch: 10,
      authRequired: false, wsMaxPayloadBytes: 1 << 20, wsMaxSubscriptions: 100, wsMaxSocketsPerKey: 50,
      maxRequestCandidates: 2000, maxKeyCandidatesInFlight: 100,
    }, createLogger('silent'));
    url = `http://127.0.0.1:${small.port}/graphql`;
    for (const n of ['a', 'b']) keys.push((await createKey(sql, 'reader', n)).key);
    await small.keys.reload();
  });
  afterAll(async () => {
    await small.close();
    await sql.end({ timeout: 5 });
    await db.drop();
  });

  it('refuses a key past MAX_KEY_CANDIDATES_IN_FLIGHT with 429 while its earlier decisions wait, and not another key', async () => {
    const as = (k: string) => ({ authorization: `Bearer ${k}` });
    const held = await sql.reserve(); // the pool's only connection: decisions wait for it, in flight
    const waiting = postAs(url, as(keys[0]!), aliased(1, 80));
    await sleep(200);
    const refused = await postAs(url, as(keys[0]!), aliased(1, 30));
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions.code).toBe('LIMIT_EXCEEDED');
    expect(refused.body.errors[0].message).toMatch(/MAX_KEY_CANDIDATES_IN_FLIGHT/);
    const other = postAs(url, as(keys[1]!), aliased(1, 30)); // another key has its own budget
    await sleep(100);
    held.release();
    expect((await waiting).body.errors).toBeUndefined();
    expect((await other).body.errors).toBeUndefined();
    // Once answered, the budget is free again.
    expect((await postAs(url, as(keys[0]!), aliased(1, 90))).body.errors).toBeUndefined();
  });
});



describe('the per-key budget after failed executions', () => {
  it('is given back when the transaction cannot open (OVERLOADED at the pool), so an idle key is never refused', async () => {
    const db = await ownDatabase();
    const sql = createSql(db.url, { poolMax: 1, poolQueueMax: 0, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 });
    const gw = await startGateway(sql, {
      port: 0, host: '127.0.0.1', liveBufferLimit: 100, livePollMs: 1000, changeLogRetentionSeconds: 86_400, changeLogPruneSeconds: 0,
      production: false, maxInFlight: 256, poolMax: 1, graphiql: false, introspection: true, maxBatch: 10,
      authRequired: false, wsMaxPayloadBytes: 1 << 20, wsMaxSubscriptions: 100, wsMaxSocketsPerKey: 50,
      maxRequestCandidates: 2000, maxKeyCandidatesInFlight: 100,
    }, createLogger('silent'));
    const url = `http://127.0.0.1:${gw.port}/graphql`;
    const held = await sql.reserve();
    const first = postAs(url, {}, aliased(1, 30)); // admitted, waits for the held connection
    await sleep(100);
    const shed = await Promise.all([postAs(url, {}, aliased(1, 30)), postAs(url, {}, aliased(1, 30))]);
    for (const r of shed) expect(r.body.errors[0].extensions.code).toBe('OVERLOADED');
    held.release();
    expect((await first).body.errors).toBeUndefined();
    // Nothing is in flight now: the whole budget is free again.
    expect((await postAs(url, {}, aliased(1, 95))).body.errors).toBeUndefined();
    await gw.close();
    await sql.end({ timeout: 5 });
    await db.drop();
  });
});
