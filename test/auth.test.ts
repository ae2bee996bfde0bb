// API keys and roles: every role × operation pair, over HTTP, SSE and graphql-ws.
// Refused calls write nothing. Runs on a database of its own (keys turn auth on).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, revokeKey, type Role } from '../src/auth/keys.js';
import { ownDatabase } from './helpers.js';
import { liveGateway, postAs, sleep, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';
import { rawSocket } from './raw-clients.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
const keys = {} as Record<Role, string>;
type Caller = Role | 'none' | 'bad';
const CALLERS: Caller[] = ['none', 'bad', 'reader', 'subscriber', 'writer', 'admin'];
const header = (c: Caller): Record<string, string> =>
  c === 'none' ? {} : { authorization: `Bearer ${c === 'bad' ? 'dcg_000000000000_' + 'x'.repeat(32) : keys[c]}` };

const OPERATIONS: Record<string, { doc: string; needs: Role }> = {
  decisionContext: { doc: '{ decisionContext(userId: "u", candidates: ["auth-a"]) { candidates { eligible } } }', needs: 'reader' },
  upsertItems: { doc: `mutation { upsertItems(items: [{ sku: "auth-b", title: "B", category: "c", priceMinor: 100, currency: "EUR", available: 4 }]) { count } }`, needs: 'writer' },
  recordEvents: { doc: 'mutation { recordEvents(events: [{ kind: PURCHASE, userId: "u", sku: "auth-a" }]) { accepted } }', needs: 'writer' },
  setInventory: { doc: 'mutation { setInventory(sku: "auth-a", available: 500) { available } }', needs: 'writer' },
  setPolicyFlag: { doc: 'mutation { setPolicyFlag(scope: SKU, target: "auth-a", kind: RISK_GATE, active: true) { active } }', needs: 'writer' },
  setPrice: { doc: 'mutation { setPrice(sku: "auth-a", amountMinor: 1, currency: "EUR") { sku } }', needs: 'writer' },
  setFulfillment: { doc: 'mutation { setFulfillment(region: "auth-r", congestion: 0.5) { region } }', needs: 'writer' },
};
const SUB = 'subscription { inventoryChanged(skus: ["auth-a"]) { cursor } }';

async function footprint() {
  const [row] = await gw.sql`select
    (select json_agg(t order by sku) from (select sku, available from inventory) t)::text as stock,
    (select json_agg(t order by sku) from (select sku, amount_minor from prices) t)::text as prices,
    (select count(*) from events)::int as events, (select count(*) from policy_flags)::int as flags,
    (select count(*) from fulfillment)::int as regions, (select count(*) from items)::int as items`;
  return row;
}

beforeAll(async () => {
  db = await ownDatabase();
  gw = await liveGateway({}, db.url);
  const open = await postAs(gw.url, {}, UPSERT_A);
  expect(open.status).toBe(200); // no keys yet: open
  for (const role of ['reader', 'subscriber', 'writer', 'admin'] as const) keys[role] = (await createKey(gw.sql, role, `test ${role}`)).key;
  await gw.keys.reload();
});
const UPSERT_A = `mutation { upsertItems(items: [{ sku: "auth-a", title: "A", category: "c", priceMinor: 100, currency: "EUR", available: 1000 }]) { count } }`;
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

describe('HTTP: every caller × operation', () => {
  for (const caller of CALLERS) {
    for (const [name, op] of Object.entries(OPERATIONS)) {
      const allowed = caller === 'admin' || caller === op.needs;
      it(`${caller} → ${name}: ${allowed ? 'allowed' : 'refused, nothing written'}`, async () => {
        const before = await footprint();
        const res = await postAs(gw.url, header(caller), op.doc);
        if (allowed) {
          expect(res.status).toBe(200);
          expect(res.body.errors).toBeUndefined();
          return;
        }
        const unauthenticated = caller === 'none' || caller === 'bad';
        expect(res.status).toBe(unauthenticated ? 401 : 403);
        expect(res.body.errors[0].extensions.code).toBe(unauthenticated ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        expect(res.body.data ?? null).toBeNull();
        expect(await footprint()).toEqual(before);
      });
    }
  }
});

describe('subscriptions: every caller, over SSE and graphql-ws', () => {
  for (const caller of CALLERS) {
    const allowed = caller === 'admin' || caller === 'subscriber';
    it(`${caller} → inventoryChanged: ${allowed ? 'allowed' : 'refused'}`, async () => {
      const base = gw.hub.subscriberCount;
      // SSE
      const abort = new AbortController();
      const res = await fetch(gw.url, {
        method: 'POST', signal: abort.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...header(caller) },
        body: JSON.stringify({ query: SUB }),
      });
      if (allowed) {
        expect(res.status).toBe(200);
        for (let i = 0; i < 100 && gw.hub.subscriberCount === base; i++) await sleep(10);
        expect(gw.hub.subscriberCount).toBe(base + 1);
      } else {
        const unauthenticated = caller === 'none' || caller === 'bad';
        if (unauthenticated) expect(res.status).toBe(401);
        expect(await res.text()).toContain(unauthenticated ? 'UNAUTHENTICATED' : 'FORBIDDEN');
      }
      abort.abort();
      for (let i = 0; i < 100 && gw.hub.subscriberCount !== base; i++) await sleep(10);

      // graphql-ws: the key travels in connectionParams
      const params = caller === 'none' ? undefined : { authorization: header(caller).authorization };
      const client = wsClient(gw.wsUrl, params);
      const s = wsSubscribe(client, SUB);
      if (allowed) {
        for (let i = 0; i < 100 && gw.hub.subscriberCount === base; i++) await sleep(10);
        expect(gw.hub.subscriberCount).toBe(base + 1);
        s.close();
      } else {
        await s.done;
        const seen = JSON.stringify(s.errors.map((e: any) => (e?.code ? { closeCode: e.code, reason: e.reason } : e)));
        expect(seen).toContain(caller === 'none' || caller === 'bad' ? '4401' : 'FORBIDDEN');
      }
      await client.dispose();
      for (let i = 0; i < 100 && gw.hub.subscriberCount !== base; i++) await sleep(10);
      expect(gw.hub.subscriberCount).toBe(base);
    });
  }
});

describe('graphql-ws: refusals', () => {
  it('a missing or bad key closes with 4401 and a reason naming the problem', async () => {
    const missing = await rawSocket(gw.wsUrl);
    await expect(missing.init()).rejects.toThrow(/socket closed/);
    expect(await missing.closed).toMatchObject({ code: 4401, reason: 'missing API key' });
    const bad = await rawSocket(gw.wsUrl);
    await expect(bad.init({ authorization: header('bad').authorization })).rejects.toThrow(/socket closed/);
    expect(await bad.closed).toMatchObject({ code: 4401, reason: 'invalid or revoked API key' });
  });

  it('a key whose role may not subscribe is refused per operation (FORBIDDEN); the socket stays open for what it may do', async () => {
    const s = await rawSocket(gw.wsUrl);
    await s.init({ authorization: header('reader').authorization });
    s.subscribe('sub', SUB);
    const refused = await s.waitFor((m) => m.id === 'sub' && (m.type === 'error' || m.payload?.errors));
    expect(JSON.stringify(refused.payload)).toContain('FORBIDDEN');
    s.subscribe('q', OPERATIONS.decisionContext!.doc);
    const [answer] = await s.nexts('q', 1);
    expect(answer.payload.errors).toBeUndefined();
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    s.close();
  });
});

describe('GET and GraphiQL', () => {
  const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  const INTROSPECT = '{ __schema { queryType { name } } }';
  const get = (base: string, query: string | null, headers: Record<string, string> = {}) =>
    fetch(query === null ? base : `${base}?query=${encodeURIComponent(query)}`, { headers: { accept: BROWSER, ...headers } });

  it('GRAPHIQL on: the page itself needs no key, and nothing executes without one', async () => {
    const page = await get(gw.url, null);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    for (const query of [INTROSPECT, OPERATIONS.decisionContext!.doc]) {
      const res = await get(gw.url, query);
      const body = await res.text();
      if (/text\/html/.test(res.headers.get('content-type') ?? '')) {
        expect(body).toContain('<div id="root"></div>'); // the page: it only pre-fills the editor (its inlined scripts hold "data")
      } else {
        expect(res.status).toBe(401);
        expect(JSON.parse(body).data ?? null).toBeNull();
      }
    }
  });

  it('GRAPHIQL off: a GET that accepts text/html is authenticated like any other request', async () => {
    const off = await liveGateway({ graphiql: false }, db.url);
    try {
      for (const query of [INTROSPECT, OPERATIONS.decisionContext!.doc, null]) {
        const res = await get(off.url, query);
        expect(res.status).toBe(401);
        const body = await res.json() as any;
        expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
        expect(body.data ?? null).toBeNull();
      }
      const keyed = await get(off.url, INTROSPECT, header('reader'));
      expect(keyed.status).toBe(200);
      expect(((await keyed.json()) as any).data.__schema.queryType.name).toBe('Query');
    } finally {
      await off.stop();
    }
  });

  it('an operation that reaches execution with no principal is refused (UNAUTHENTICATED) and writes nothing', async () => {
    const before = await footprint();
    const { schema, parse, execute, contextFactory } = gw.app.getEnveloped({});
    for (const doc of [OPERATIONS.setInventory!.doc, OPERATIONS.decisionContext!.doc]) {
      const result = await execute({ schema, document: parse(doc), contextValue: await contextFactory() }) as any;
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(result.data ?? null).toBeNull();
    }
    expect(await footprint()).toEqual(before);
  });
});

describe('keys', () => {
  it('a revoked key stops working at once (NOTIFY), and keys are stored hashed', async () => {
    const { id, key } = await createKey(gw.sql, 'reader', 'short-lived');
    for (let i = 0; i < 100 && !gw.keys.verify(key); i++) await sleep(10);
    expect((await postAs(gw.url, { authorization: `Bearer ${key}` }, OPERATIONS.decisionContext!.doc)).status).toBe(200);
    const [stored] = await gw.sql`select secret_hash from api_keys where id = ${id}`;
    expect(key).not.toContain(stored!.secret_hash);
    expect(stored!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await revokeKey(gw.sql, id)).toBe(true);
    for (let i = 0; i < 100 && gw.keys.verify(key); i++) await sleep(10);
    expect((await postAs(gw.url, { authorization: `Bearer ${key}` }, OPERATIONS.decisionContext!.doc)).status).toBe(401);
  });

  it('revoking the last active key locks the gateway rather than opening it', async () => {
    const other = await ownDatabase();
    const lone = await liveGateway({}, other.url);
    const { id, key } = await createKey(lone.sql, 'reader', 'the only one');
    for (let i = 0; i < 100 && !lone.keys.enabled; i++) await sleep(10);
    expect((await postAs(lone.url, { authorization: `Bearer ${key}` }, '{ __typename }')).status).toBe(200);
    await revokeKey(lone.sql, id);
    for (let i = 0; i < 100 && lone.keys.verify(key); i++) await sleep(10);
    expect((await postAs(lone.url, { authorization: `Bearer ${key}` }, '{ __typename }')).status).toBe(401);
    expect((await postAs(lone.url, {}, '{ __typename }')).status).toBe(401);
    await lone.stop();
    await other.drop();
  });

  it('health, readiness and metrics stay reachable without a key', async () => {
    for (const path of ['/health', '/ready', '/metrics']) {
      expect((await fetch(gw.url.replace('/graphql', path))).status).toBe(200);
    }
  });
});
