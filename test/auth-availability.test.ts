// Whether auth is on is decided by configuration or a successful read of
// api_keys, never by a failed one: until keys are read, every GraphQL request
// is UNAVAILABLE (HTTP 503, SSE 503, graphql-ws 1013), and it recovers by
// itself. Each test has a database of its own (keys turn auth on).
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.js';
import { createSql } from '../src/db/client.js';
import { ownDatabase } from './helpers.js';
import { liveGateway, postAs, until, type LiveGateway } from './live-helpers.js';
import { rawSocket, sseAs, within } from './raw-clients.js';

const UPSERT = `mutation { upsertItems(items: [{ sku: "avail-a", title: "A", category: "c", priceMinor: 100, currency: "EUR", available: 5 }]) { count } }`;
const SUB = 'subscription { inventoryChanged { sku } }';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function database() {
  const db = await ownDatabase();
  const sql = createSql(db.url, { poolMax: 2, connectTimeoutSeconds: 2, statementTimeoutMs: 5000 });
  cleanups.push(() => db.drop(), () => sql.end({ timeout: 5 }));
  return { ...db, sql };
}
async function gateway(url: string, overrides = {}) {
  const gw = await liveGateway(overrides, url);
  cleanups.push(() => gw.stop());
  return gw;
}
const items = async (sql: postgres.Sql) => (await sql<{ n: number }[]>`select count(*)::int as n from items`)[0]!.n;

/** Every way in, without a key and with `key`: none may get through. */
async function expectNobodyGetsIn(gw: LiveGateway, key: string) {
  for (const headers of [{}, { authorization: `Bearer ${key}` }] as Record<string, string>[]) {
    for (const query of ['{ __typename }', UPSERT]) {
      const res = await postAs(gw.url, headers, query);
      expect(res.status).toBe(503);
      expect(res.body.errors[0].extensions.code).toBe('UNAVAILABLE');
      expect(res.body.data ?? null).toBeNull();
    }
    const get = await fetch(`${gw.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json', ...headers } });
    expect(get.status).toBe(503);
    expect(get.headers.get('retry-after')).toBe('1');
    const stream = sseAs(gw.url, headers, SUB);
    expect(await stream.status).toBe(503);
    await stream.ended;
    const s = await rawSocket(gw.wsUrl);
    s.send({ type: 'connection_init', payload: headers });
    const closed = await within(s.closed, 5000, 'the socket closing');
    expect(closed.code).toBe(1013); // "try again later": graphql-ws clients retry it
    expect(closed.reason).toMatch(/API keys/);
    expect(s.messages.some((m) => m.type === 'connection_ack')).toBe(false);
  }
}

describe('the first read of api_keys fails', () => {
  it('table missing: no caller gets in (UNAVAILABLE everywhere) until a read succeeds, then auth is on', async () => {
    const db = await database();
    const { key } = await createKey(db.sql, 'writer', 'avail writer');
    await db.sql`alter table api_keys rename to api_keys_away`;
    const gw = await gateway(db.url);

    await expectNobodyGetsIn(gw, key);
    expect(await items(db.sql)).toBe(0);

    await db.sql`alter table api_keys_away rename to api_keys`;
    const back = Date.now();
    await until(async () => (await postAs(gw.url, { authorization: `Bearer ${key}` }, UPSERT)).status === 200, 5000);
    expect(Date.now() - back).toBeLessThan(2500); // retried every second, not every 30 s
    expect((await postAs(gw.url, {}, '{ __typename }')).status).toBe(401);
  });

  it('SELECT on api_keys revoked for the gateway\'s role: the same, and it recovers when the grant is back', async () => {
    const db = await database();
    const { key } = await createKey(db.sql, 'writer', 'avail writer');
    const role = `gw_noread_${Math.random().toString(36).slice(2, 8)}`;
    await db.sql.unsafe(`create role ${role} login password 'pw'`);
    cleanups.push(() => db.sql.unsafe(`drop owned by ${role}; drop role ${role}`).catch(() => {}));
    const dbName = new URL(db.url).pathname.slice(1);
    await db.sql.unsafe(`grant connect on database ${dbName} to ${role};
      grant usage on schema public to ${role}; grant usage on schema drizzle to ${role};
      grant select, insert, update, delete on all tables in schema public to ${role};
      grant select on all tables in schema drizzle to ${role};
      grant usage, select on all sequences in schema public to ${role};
      revoke select on api_keys from ${role}`);
    const asRole = new URL(db.url);
    asRole.username = role;
    asRole.password = 'pw';
    const gw = await gateway(asRole.toString());

    await expectNobodyGetsIn(gw, key);
    expect(await items(db.sql)).toBe(0);

    await db.sql.unsafe(`grant select on api_keys to ${role}`);
    await until(async () => (await postAs(gw.url, { authorization: `Bearer ${key}` }, UPSERT)).status === 200, 5000);
    expect((await postAs(gw.url, {}, '{ __typename }')).status).toBe(401);
  });
});

describe('AUTH_REQUIRED', () => {
  it('is off by default', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(loadConfig({}).authRequired).toBe(false);
    expect(loadConfig({ AUTH_REQUIRED: 'true' }).authRequired).toBe(true);
  });

  it('on, with no key in the table: everything is refused (401 / 4401) until a key exists', async () => {
    const db = await database();
    const gw = await gateway(db.url, { authRequired: true });
    const res = await postAs(gw.url, {}, UPSERT);
    expect(res.status).toBe(401);
    expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const stream = sseAs(gw.url, {}, SUB);
    expect(await stream.status).toBe(401);
    const s = await rawSocket(gw.wsUrl);
    await expect(s.init()).rejects.toThrow(/4401 missing API key/);

    const { key } = await createKey(db.sql, 'writer', 'first');
    await until(async () => (await postAs(gw.url, { authorization: `Bearer ${key}` }, UPSERT)).status === 200);
    expect((await postAs(gw.url, {}, '{ __typename }')).status).toBe(401);
    expect(await items(db.sql)).toBe(1);
  });
});

describe('auth turning on', () => {
  it('ends what was opened while the gateway was open: SSE streams end UNAUTHENTICATED, sockets close 4401', async () => {
    const db = await database();
    const gw = await gateway(db.url);
    const base = gw.hub.subscriberCount;
    const stream = sseAs(gw.url, {}, SUB);
    expect(await stream.status).toBe(200);
    const s = await rawSocket(gw.wsUrl);
    await s.init();
    s.subscribe('s', SUB);
    await until(() => gw.hub.subscriberCount === base + 2);

    await createKey(db.sql, 'reader', 'the first key');
    const closed = await within(s.closed, 5000, 'the socket closing');
    expect(closed.code).toBe(4401);
    await within(stream.ended, 5000, 'the SSE stream ending');
    expect(stream.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    await until(() => gw.hub.subscriberCount === base, 2000);
  });
});
