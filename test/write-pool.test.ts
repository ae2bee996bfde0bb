// Writes have their own pool and admission gate (PG_WRITE_POOL_MAX): writers
// queued on the change-log lock hold write-pool connections only, so a decision
// never waits behind them, and a write flood gets OVERLOADED for writes alone.
// The lock is held from outside to make writers queue: an order, not a timing.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items, ownDatabase, testGateway, uid, UPSERT } from './helpers.js';
import { liveGateway, post, postAs, until, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';

const CHANGE_LOG_LOCK = 72_310_002; // src/live/changelog.ts
const SNAPSHOT_POOL = 10; // liveGateway's snapshot pool
const BUY = `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted stock { sku available previous } } }`;
const DECIDE = `query($c: [ID!]!) { decisionContext(userId: "u", candidates: $c) { candidates { sku inventory { available } } } }`;

let db: Awaited<ReturnType<typeof ownDatabase>>; // advisory locks are per database: holding this one stalls no other test file
let holder: postgres.Sql; // one connection: it takes, checks and releases the lock
beforeAll(async () => {
  db = await ownDatabase();
  holder = postgres(db.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await holder.end();
  await db.drop();
});

/** Holds the change-log lock: every write that logs a change queues on it, holding its connection. */
async function holdChangeLog(): Promise<() => Promise<void>> {
  await holder`select pg_advisory_lock(${CHANGE_LOG_LOCK})`;
  return async () => { await holder`select pg_advisory_unlock(${CHANGE_LOG_LOCK})`; };
}

/** The gateway's backends blocked on a lock (the change-log lock, or the SKU row behind it). */
const blocked = async () => Number((await holder<{ n: number }[]>`
  select count(*)::int as n from pg_stat_activity
  where datname = current_database() and application_name = 'decision-gateway' and wait_event_type = 'Lock'`)[0]!.n);

/** The write gate's count, from /metrics (gateway_write_transactions). */
const writesAdmitted = async (gw: LiveGateway) => Number(
  /^gateway_write_transactions\{[^}]*\} (\d+)/m.exec(await (await fetch(gw.url.replace(/graphql$/, 'metrics'))).text())?.[1] ?? -1);

const buy = (sku: string, user: string) => ({ kind: 'PURCHASE', userId: user, sku, quantity: 1 });

describe('the write pool', () => {
  let gw: LiveGateway;
  const p = uid('wpool');
  const sku = `${p}-a`;
  beforeAll(async () => {
    gw = await liveGateway({}, db.url, undefined, { writePool: { poolMax: 2 } });
    await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, { i: items(p, { a: { available: 100 } }) });
  });
  afterAll(() => gw.stop());

  it('a decision answers while more writers than the snapshot pool holds queue on the change-log lock; then every write commits, in order, on the feed', async () => {
    const client = wsClient(gw.wsUrl);
    const feed = wsSubscribe(client, `subscription($s: [ID!]) { inventoryChanged(skus: $s) { cursor available previous } }`, { s: [sku] });
    try {
      await until(() => gw.hub.subscriberCount > 0);
      const release = await holdChangeLog();
      let settled = 0;
      // More writes than the snapshot pool has connections: shared, they would take every one of them.
      const writes = Array.from({ length: SNAPSHOT_POOL + 2 }, (_, i) => post(gw.url, BUY, { e: [buy(sku, `${p}-u${i}`)] })
        .finally(() => { settled++; }));
      await until(async () => (await blocked()) >= 2); // the write pool's connections are all stuck behind the lock
      const decision = await post(gw.url, DECIDE, { c: [sku] });
      // Answered while every write still waits: it did not queue behind them.
      expect(settled).toBe(0);
      expect(decision.errors).toBeUndefined();
      expect(decision.data.decisionContext.candidates[0].inventory.available).toBe(100);
      await release();

      const results = await Promise.all(writes);
      for (const r of results) expect(r.errors).toBeUndefined();
      // Each write saw the one before it: 100 → 99 → … → 88, one step per commit.
      const steps = results.map((r) => r.data.recordEvents.stock[0]).sort((a: any, b: any) => b.available - a.available);
      expect(steps.map((s: any) => [s.previous, s.available])).toEqual(steps.map((_: unknown, i: number) => [100 - i, 99 - i]));
      // The feed has them all, in commit order, with nothing missing.
      const got = (await feed.waitFor(SNAPSHOT_POOL + 2)).map((x: any) => x.inventoryChanged);
      expect(got.map((c: any) => [c.previous, c.available])).toEqual(steps.map((s: any) => [s.previous, s.available]));
      const seqs = got.map((c: any) => BigInt(c.cursor));
      expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
    } finally {
      feed.close();
      await client.dispose();
    }
  });
});

describe('a write flood', () => {
  let gw: LiveGateway;
  const p = uid('wflood');
  const sku = `${p}-a`;
  beforeAll(async () => {
    // Room for 1 write in progress + 2 waiting; the snapshot pool keeps its own gate.
    gw = await liveGateway({}, db.url, undefined, { writePool: { poolMax: 1, poolQueueMax: 2 } });
    await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, { i: items(p, { a: { available: 50 } }) });
  });
  afterAll(() => gw.stop());

  it('past the write gate gets OVERLOADED at once, and decisions still answer', async () => {
    const release = await holdChangeLog();
    let admittedSettled = 0;
    const admitted = Array.from({ length: 3 }, (_, i) => postAs(gw.url, {}, BUY, { e: [buy(sku, `${p}-in${i}`)] })
      .finally(() => { admittedSettled++; }));
    await until(async () => (await blocked()) >= 1 && (await writesAdmitted(gw)) === 3);
    // The gate is full: these are refused without waiting for the lock.
    const refused = await Promise.all(Array.from({ length: 3 }, (_, i) => postAs(gw.url, {}, BUY, { e: [buy(sku, `${p}-out${i}`)] })));
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.body.errors[0].extensions.code).toBe('OVERLOADED');
      expect(r.body.errors[0].message).toMatch(/write pool/);
    }
    const decisions = await Promise.all(Array.from({ length: SNAPSHOT_POOL + 2 }, () => post(gw.url, DECIDE, { c: [sku] })));
    expect(admittedSettled).toBe(0);
    for (const d of decisions) expect(d.data.decisionContext.candidates[0].inventory.available).toBe(50);
    await release();
    const done = await Promise.all(admitted);
    for (const r of done) expect(r.body.errors).toBeUndefined();
    const after = await post(gw.url, DECIDE, { c: [sku] });
    expect(after.data.decisionContext.candidates[0].inventory.available).toBe(47);
  });
});

describe('the change-log append', () => {
  it('is pipelined: while a write waits for the lock, its insert and NOTIFY are already sent (COMMIT is all that is left to round-trip)', async () => {
    const gw = testGateway({ url: db.url });
    const p = uid('wpipe');
    try {
      expect((await gw.gql(UPSERT, { items: items(p, { a: { available: 5 } }) })).errors).toBeUndefined();
      const release = await holdChangeLog();
      gw.statements.length = 0;
      const write = gw.gql(`mutation { setInventory(sku: "${p}-a", available: 4) { available } }`);
      await until(async () => (await blocked()) >= 1);
      const sent = gw.statements.slice();
      await release();
      expect((await write).data.setInventory.available).toBe(4);
      const lockAt = sent.findIndex((q) => q.includes('pg_advisory_xact_lock'));
      expect(lockAt).toBeGreaterThanOrEqual(0);
      expect(sent.slice(lockAt + 1).map((q) => q.trim())).toEqual([expect.stringMatching(/^insert into change_log/), expect.stringMatching(/^select pg_notify/)]);
    } finally {
      await gw.close();
    }
  });
});
