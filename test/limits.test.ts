// Query limits and load shedding: the real workload passes, abuse is refused with a clear error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECISION, items, uid } from './helpers.js';
import { liveGateway, post, sleep, type LiveGateway } from './live-helpers.js';

let gw: LiveGateway;
const p = uid('limits');
beforeAll(async () => {
  gw = await liveGateway();
  await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, { i: items(p, { a: {} }) });
});
afterAll(() => gw.stop());

describe('query limits', () => {
  it('let the full decisionContext through with 1,000 inline candidates', async () => {
    const inline = Array.from({ length: 1000 }, (_, i) => `"${p}-${i % 3 ? 'a' : i}"`).join(', ');
    const query = DECISION.replace('query($u: ID!, $s: ID, $c: [ID!]!, $r: String)', 'query($u: ID!, $s: ID, $r: String)')
      .replace('candidates: $c', `candidates: [${inline}]`);
    const res = await post(gw.url, query, { u: 'u', r: 'nowhere' });
    expect(res.errors).toBeUndefined();
    expect(res.data.decisionContext.candidates).toHaveLength(1000);
  });

  it('refuse too many aliases, too many tokens and runaway cost', async () => {
    const aliases = `{ ${Array.from({ length: 16 }, (_, i) => `d${i}: decisionContext(userId: "u", candidates: []) { snapshot { id } }`).join(' ')} }`;
    const tokens = `{ decisionContext(userId: "u", candidates: [${Array.from({ length: 5000 }, (_, i) => `"s${i}"`).join(',')}]) { snapshot { id } } }`;
    const costly = `{ ${Array.from({ length: 14 }, (_, i) => `d${i}: decisionContext(userId: "u", candidates: []) { ${DECISION.slice(DECISION.indexOf('snapshot'), DECISION.lastIndexOf('}', DECISION.lastIndexOf('}') - 1))} }`).join(' ')} }`;
    for (const [query, pattern] of [[aliases, /alias/i], [tokens, /token/i], [costly, /cost/i]] as const) {
      const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      expect(res.status).toBeLessThan(500);
      const body = await res.json() as any;
      expect(body.data ?? null).toBeNull();
      expect(body.errors[0].message).toMatch(pattern);
      expect(body.errors[0].extensions.code).toMatch(/^GRAPHQL_(VALIDATION|PARSE)_FAILED$/);
    }
  });
});

describe('load shedding', () => {
  /** Holds the SKU's row lock until released, so a write on it stays in flight (holding a pool connection). */
  async function holdSku(gateway: LiveGateway, sku: string) {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const locker = gateway.sql.begin(async (tx) => {
      await tx`select 1 from sku_counters where sku = ${sku} for update`;
      await held;
    });
    await sleep(100);
    return async () => { release(); await locker; };
  }
  const shed = async (res: Response) => {
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('OVERLOADED');
  };

  it('answers 503 with Retry-After past MAX_IN_FLIGHT instead of queueing, whatever the Accept', async () => {
    const tight = await liveGateway({ maxInFlight: 1 });
    const k = `${p}-a`;
    const release = await holdSku(tight, k);
    const slow = post(tight.url, `mutation { setInventory(sku: "${k}", available: 5) { available } }`);
    await sleep(200);
    for (const accept of ['application/json', 'text/event-stream']) {
      await shed(await fetch(tight.url, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ query: '{ __typename }' }) }));
    }
    await release();
    expect((await slow).data.setInventory.available).toBe(5);
    const after = await post(tight.url, '{ __typename }');
    expect(after.data.__typename).toBe('Query');
    await tight.stop();
  });

  it('bounds the database queue: past PG_POOL_MAX + PG_POOL_QUEUE_MAX transactions, OVERLOADED at once', async () => {
    const { createSql } = await import('../src/db/client.js');
    const { startGateway } = await import('../src/gateway.js');
    const { createLogger } = await import('../src/logger.js');
    const { inject } = await import('vitest');
    const sql = createSql(inject('databaseUrl'), { poolMax: 2, poolQueueMax: 0, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 });
    const small = await startGateway(sql, {
      port: 0, host: '127.0.0.1', liveBufferLimit: 100, livePollMs: 1000, changeLogRetentionSeconds: 86_400, changeLogPruneSeconds: 0,
      production: false, maxInFlight: 256, poolMax: 2, graphiql: false, introspection: true, maxBatch: 10,
      authRequired: false, wsMaxPayloadBytes: 1 << 20, wsMaxSubscriptions: 100, wsMaxSocketsPerKey: 50,
    }, createLogger('silent'));
    const url = `http://127.0.0.1:${small.port}/graphql`;
    const k = `${p}-a`;
    const release = await holdSku({ sql } as LiveGateway, k);
    const writes = [1, 2].map((n) => post(url, `mutation { setInventory(sku: "${k}", available: ${n}) { available } }`));
    await sleep(200);
    const refused = await post(url, `{ decisionContext(userId: "u", candidates: ["${k}"]) { candidates { sku } } }`);
    expect(refused.errors[0].extensions.code).toBe('OVERLOADED');
    await release();
    for (const w of await Promise.all(writes)) expect(w.errors).toBeUndefined();
    const later = await post(url, `{ decisionContext(userId: "u", candidates: ["${k}"]) { candidates { sku } } }`);
    expect(later.errors).toBeUndefined();
    await small.close();
    await sql.end({ timeout: 5 });
  });
});

describe('subscriptions need a streaming transport', () => {
  it('a subscription over JSON, GET or in a batch gets BAD_USER_INPUT saying which transports carry it', async () => {
    const query = `subscription { inventoryChanged(skus: ["${p}-a"]) { cursor } }`;
    const json = { 'content-type': 'application/json', accept: 'application/json' };
    const answers = [
      await (await fetch(gw.url, { method: 'POST', headers: json, body: JSON.stringify({ query }) })).json(),
      await (await fetch(`${gw.url}?${new URLSearchParams({ query })}`, { headers: { accept: 'application/json' } })).json(),
      ...(await (await fetch(gw.url, { method: 'POST', headers: json, body: JSON.stringify([{ query }, { query }]) })).json()) as any[],
    ] as any[];
    for (const a of answers) {
      expect(a.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(a.errors[0].message).toMatch(/graphql-ws|text\/event-stream/);
    }
    expect(gw.hub.subscriberCount).toBe(0);
  });
});

describe('/metrics', () => {
  it('is open by default and needs the bearer token when METRICS_TOKEN is set', async () => {
    const guarded = await liveGateway({ metricsToken: 's3cret' });
    const metrics = guarded.url.replace('/graphql', '/metrics');
    expect((await fetch(metrics)).status).toBe(401);
    expect((await fetch(metrics, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const res = await fetch(metrics, { headers: { authorization: 'Bearer s3cret' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('gateway_subscribers');
    expect((await fetch(gw.url.replace('/graphql', '/metrics'))).status).toBe(200);
    await guarded.stop();
  });
});

describe('nesting', () => {
  it('a list nested thousands of levels deep, inline or in variables, is BAD_USER_INPUT, not a stack overflow', async () => {
    for (const depth of [40, 3000, 20_000]) {
      const nested = '['.repeat(depth) + '"a"' + ']'.repeat(depth);
      const inline = await post(gw.url, `{ decisionContext(userId: "u", candidates: ${nested}) { snapshot { id } } }`);
      // (Node's own JSON.stringify overflows past a few thousand levels: variables go up to 3,000.)
      const variable = depth > 3000 ? inline
        : await post(gw.url, 'query($c: [ID!]!) { decisionContext(userId: "u", candidates: $c) { snapshot { id } } }', { c: JSON.parse(nested) });
      for (const res of [inline, variable]) {
        expect(res.errors[0].extensions.code).toBe('BAD_USER_INPUT');
        expect(res.errors[0].message).toMatch(/levels deep|cannot represent/);
      }
    }
  });

  it('ends comments and strings where the GraphQL lexer does (\\r, escaped block quotes)', async () => {
    const { sourceDepth } = await import('../src/plugins/limits.js');
    const deep = '['.repeat(40);
    expect(sourceDepth(`# c\r${deep}`)).toBe(40);
    expect(sourceDepth(`"s\r${deep}`)).toBe(40);
    expect(sourceDepth(`""" a \\""" b """ ${deep}`)).toBe(40);
    expect(sourceDepth(`""" ${deep} """`)).toBe(0);
  });

  it('leaves strings and comments that hold brackets alone', async () => {
    const brackets = '['.repeat(100);
    const res = await post(gw.url, `# ${brackets}\n{ decisionContext(userId: "${brackets}", candidates: []) { snapshot { id } } }`);
    expect(res.errors).toBeUndefined();
  });
});
