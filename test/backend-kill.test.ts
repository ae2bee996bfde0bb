// Backends terminated mid-decision (pg_terminate_backend, an admin's or a failover's): the
// decisions in flight fail with UNAVAILABLE, and every decision after them is answered —
// none inherits the server's farewell error, none hangs on a connection that reconnected.
// Under load postgres.js can leave a killed transaction pending forever (withDeadline in
// db/client.ts answers it UNAVAILABLE); 10 rounds give that race its chances.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DECISION, items, ownDatabase, testGateway, uid, UPSERT, ok, type TestGateway } from './helpers.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: TestGateway;
const p = uid('kill');
const skus = Array.from({ length: 20 }, (_, i) => `${p}-${i}`);
const POOL = 4;

beforeAll(async () => {
  db = await ownDatabase();
  gw = testGateway({ url: db.url, pool: { poolMax: POOL, connectTimeoutSeconds: 2, statementTimeoutMs: 5000 } });
  ok(await gw.gql(UPSERT, { items: items(p, Object.fromEntries(skus.map((s) => [s.slice(p.length + 1), {}]))) }));
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

// Odd ones also read the catalog: a second tick, so they run in a snapshot transaction (both read paths).
const WITH_CATALOG = DECISION.replace('decisionContext(', `catalog(search: "${p}") { sku } decisionContext(`);
const decide = (i: number) => gw.gql(i % 2 ? WITH_CATALOG : DECISION, { u: `${p}-u${i}`, s: null, c: skus, r: null });

it('in-flight decisions fail with UNAVAILABLE; every decision after the kill is answered', async () => {
  for (let round = 0; round < 10; round++) {
    await Promise.all(Array.from({ length: 8 }, (_, i) => decide(i).then(ok))); // every pool connection open
    const inFlight = Array.from({ length: 16 }, (_, i) => decide(i));
    await db.sql`select pg_terminate_backend(pid) from pg_stat_activity
                 where datname = current_database() and pid <> pg_backend_pid() and application_name = 'decision-gateway'`;
    for (const res of await Promise.all(inFlight)) {
      if (res.errors) expect(res.errors[0]!.extensions?.code).toBe('UNAVAILABLE');
      else expect(res.data.decisionContext.candidates).toHaveLength(skus.length);
    }
    // A connection idle at the kill learns of it only at its next use: that decision may be UNAVAILABLE too,
    // at most once per connection. Then no error at all, concurrent and sequential.
    let settled = false;
    for (let i = 0; i <= POOL && !settled; i++) {
      const res = await decide(i);
      if (res.errors) expect(res.errors[0]!.extensions?.code).toBe('UNAVAILABLE');
      settled = !res.errors;
    }
    expect(settled).toBe(true);
    for (const res of await Promise.all(Array.from({ length: 16 }, (_, i) => decide(i)))) expect(res.errors).toBeUndefined();
    for (let i = 0; i < 8; i++) expect((await decide(i)).errors).toBeUndefined();
  }
});
