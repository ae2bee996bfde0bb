// The decision log: each logged row is exactly what its answer served (field by
// field, same snapshot), it is as consistent as the answer under a purchase
// stream, and logging never fails a decision (queue full: dropped and counted).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGGED_DECISION, loggedGateway, rowOf, type Logged } from './decision-log-helpers.js';
import { items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';
import { sleep } from './live-helpers.js';

const p = uid('dlog');
const sku = (i: number) => `${p}-${String(i).padStart(3, '0')}`;
const INITIAL = 100_000;

let l: Logged;
const user = `${p}-user`;
const session = `${p}-sess`;
const region = `${p}-region`;

beforeAll(async () => {
  l = loggedGateway();
  const all = items(p, Object.fromEntries(Array.from({ length: 200 }, (_, i) => [String(i).padStart(3, '0'),
    { available: i % 17 === 0 ? 0 : INITIAL, price: 100 + i, category: `${p}-cat${i % 4}` }])));
  ok(await l.gw.gql(UPSERT, { items: all }));
  for (const m of [`setPolicyFlag(scope: SKU, target: "${sku(3)}", kind: QUALITY_HOLD, active: true, reason: "hold") { active }`,
    `setPolicyFlag(scope: CATEGORY, target: "${p}-cat2", kind: RISK_GATE, active: true, reason: "gate") { active }`,
    `setFulfillment(region: "${region}", nextSlotAt: "2030-01-01T10:00:00Z", congestion: 0.5, latencyMinutes: 40) { region }`]) {
    ok(await l.gw.gql(`mutation { ${m} }`));
  }
  ok(await l.gw.gql(RECORD, { events: [
    { kind: 'VIEW', userId: user, sessionId: session, sku: sku(1) },
    { kind: 'CLICK', userId: user, sessionId: session, sku: sku(1) },
    { kind: 'PURCHASE', userId: user, sessionId: session, sku: sku(2), quantity: 2 },
  ] }));
});
afterAll(() => l.close());


/** The answer's fields, in the log's shape. */
function expectRowEqualsAnswer(row: any, d: any, request: { u: string; s: string | null; c: string[]; r: string | null }) {
  expect(row.decision_id).toBe(d.decisionId);
  expect(row.user_id).toBe(request.u);
  expect(row.session_id).toBe(request.s);
  expect(row.region).toBe(request.r);
  expect({ id: row.snapshot_id, readAt: row.read_at, cursor: String(row.snapshot_cursor), source: row.source, lagMs: row.lag_ms })
    .toEqual(d.snapshot);
  expect(row.key_id).toBe('open');
  const c = row.context;
  expect(c.segment).toBe(d.user.segment);
  expect(c.userFlags).toEqual(d.user.flags);
  if (d.session) {
    expect(c.intent ?? 'BROWSING').toBe(d.session.intent);
    expect(c.sessionLastEventAt).toBe(d.session.lastEventAt);
    expect(c.sessionEvents).toEqual(d.session.recentEvents);
  }
  expect(c.purchases).toEqual(d.user.recentPurchases);
  // Candidates in request order, duplicates included.
  expect(row.signals.map((s: any) => s.sku)).toEqual(request.c);
  row.signals.forEach((s: any, i: number) => {
    const a = d.candidates[i];
    expect(s.position).toBe(i);
    expect({
      sku: s.sku, item: s.item && { sku: s.sku, ...s.item }, inventory: s.inventory, velocity: s.velocity, price: s.price,
      policy: s.policy, fulfillment: c.fulfillment, eligible: s.eligible, reasons: s.reasons,
    }).toEqual(a);
  });
}

describe('a logged row is the answer', () => {
  it.each([1, 50, 200])('field by field, same snapshot, for %i candidates', async (n) => {
    // Duplicates and an unknown SKU are part of the request as given.
    const c = Array.from({ length: n }, (_, i) => (i === 5 ? `${p}-unknown` : i === 7 ? sku(3) : sku(i)));
    const request = { u: user, s: session, c, r: region };
    const d = ok(await l.gw.gql(LOGGED_DECISION, { ...request, log: true })).decisionContext;
    expect(d.logged).toBe(true);
    expect(d.decisionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const row = await rowOf(l, d.decisionId);
    expect(row).toBeDefined();
    expectRowEqualsAnswer(row, d, request);
    // Not vacuous: the answer holds every kind of value the row must carry.
    if (n >= 50) {
      const reasons = new Set(d.candidates.flatMap((x: any) => x.reasons));
      for (const r of ['UNKNOWN_ITEM', 'OUT_OF_STOCK', 'QUALITY_HOLD', 'RISK_GATE']) expect(reasons.has(r)).toBe(true);
      expect(d.candidates.some((x: any) => x.velocity.salesLast5m > 0)).toBe(true);
      expect(d.session.recentEvents.length).toBe(3);
    }
  });

  it('logs every signal it read, not only what the query selected, from the same snapshot', async () => {
    const c = [sku(1), sku(2), sku(3)];
    const d = ok(await l.gw.gql(`query($c: [ID!]!) { decisionContext(userId: "${user}", sessionId: "${session}", candidates: $c, region: "${region}", log: true) { decisionId } }`,
      { c })).decisionContext;
    const row = await rowOf(l, d.decisionId);
    const full = ok(await l.gw.gql(LOGGED_DECISION, { u: user, s: session, c, r: region, log: true })).decisionContext;
    const fullRow = await rowOf(l, full.decisionId);
    // Nothing moved in between, so both rows hold the same signals (the first read them only for the log).
    expect(row.signals).toEqual(fullRow.signals);
    expect(row.context).toEqual(fullRow.context);
    expect(row.signals[2].reasons).toEqual(['QUALITY_HOLD']);
  });

  it('an answer the client never got (data: null: an alias beside it failed) is not logged', async () => {
    const u = `${user}-unserved`;
    const res = await l.gw.gql(`{ a: decisionContext(userId: "${u}", candidates: ["${sku(1)}"], log: true) { decisionId }
      b: decisionContext(userId: "${u}", candidates: ["${sku(1)}"], log: true) { user { recentPurchases(limit: 500) { sku } } } }`);
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // The same decision, served: logged (so the check below can see a row when there is one).
    const served = ok(await l.gw.gql(`{ a: decisionContext(userId: "${u}", candidates: ["${sku(1)}"], log: true) { decisionId } }`)).a;
    await l.log.flush();
    const rows = await l.sql`select decision_id::text as id from decision_log where user_id = ${u}`;
    expect(rows.map((r: any) => r.id)).toEqual([served.decisionId]);
  });

  it('ids are unique and in time order; without log: true and at sample 0 nothing is logged', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const d = ok(await l.gw.gql(`{ a: decisionContext(userId: "x", candidates: ["${sku(1)}"]) { decisionId logged }
        b: decisionContext(userId: "x", candidates: ["${sku(1)}"]) { decisionId logged } }`));
      expect(d.a.logged).toBe(false);
      ids.push(d.a.decisionId, d.b.decisionId);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    await l.log.flush();
    const rows = await l.sql`select count(*)::int as n from decision_log where decision_id = any(${ids}::uuid[])`;
    expect(rows[0]!.n).toBe(0);
  });

  it('samples at DECISION_LOG_SAMPLE', async () => {
    const all = loggedGateway({ sample: 1 });
    const none = loggedGateway({ sample: 0 });
    try {
      const q = `{ decisionContext(userId: "x", candidates: ["${sku(1)}"]) { decisionId logged } }`;
      const a = ok(await all.gw.gql(q)).decisionContext;
      const b = ok(await none.gw.gql(q)).decisionContext;
      expect([a.logged, b.logged]).toEqual([true, false]);
      expect(await rowOf(all, a.decisionId)).toBeDefined();
    } finally {
      await all.close();
      await none.close();
    }
  });
});

describe('off the hot path', () => {
  it('queue full: every decision succeeds, the ones past the bound are dropped and counted in /metrics', async () => {
    // No flush during the test (1 h), room for 10 candidate rows: two 5-candidate decisions.
    const small = loggedGateway({ queueRows: 10, flushMs: 3_600_000 });
    try {
      const c = [1, 2, 3, 4, 6].map(sku);
      // A user with no purchases: the context adds no rows (see the next test).
      const answers = await Promise.all(Array.from({ length: 8 }, () => small.gw.gql(LOGGED_DECISION, { u: `${user}-new`, s: null, c, r: null, log: true })));
      for (const a of answers) expect(ok(a).decisionContext.candidates).toHaveLength(5);
      expect(small.log.stats).toMatchObject({ queuedRows: 10, droppedQueueFull: 6 });
      const metrics = await (await small.gw.app.fetch('http://test/metrics')).text();
      expect(metrics).toMatch(/gateway_decision_log_dropped_total\{reason="queue_full",pid="\d+"\} 6/);
      expect(metrics).toMatch(/gateway_decision_log_queue_rows\{pid="\d+"\} 10/);
      await small.log.flush();
      const ids = answers.map((a) => a.data!.decisionContext.decisionId);
      const [{ n }] = await small.sql`select count(*)::int as n from decision_log where decision_id = any(${ids}::uuid[])` as any;
      expect(n).toBe(2);
    } finally {
      await small.close();
    }
  });

  it('queue full by context: a decision\'s logged events count as rows too (zero-candidate decisions cannot fill memory unbounded)', async () => {
    // Each decision holds its facts (up to 20 session events, 10 purchases) until written: ≈6.5 KB with no
    // candidate at all, which counted as one row, so 100,000 of them (≈650 MB) fit the default bound.
    const small = loggedGateway({ queueRows: 40, flushMs: 3_600_000 });
    const u = `${user}-ctx`;
    const s = `${session}-ctx`;
    try {
      ok(await small.gw.gql(RECORD, { events: Array.from({ length: 15 }, () => ({ kind: 'VIEW', userId: u, sessionId: s, sku: sku(1) })) }));
      for (let i = 0; i < 8; i++) expect(ok(await small.gw.gql(LOGGED_DECISION, { u, s, c: [], r: null, log: true })).decisionContext.logged).toBe(true);
      // 15 session events each: two decisions fit in 40 rows, the other six are dropped and counted.
      expect(small.log.stats).toMatchObject({ queuedRows: 30, droppedQueueFull: 6 });
    } finally {
      await small.close();
    }
  });

  it('a database that refuses the batch fails no decision; the batch is counted as write_failed', async () => {
    const broken = loggedGateway({ flushMs: 3_600_000 });
    try {
      await broken.sql.end(); // the log's pool is gone: every write fails
      const d = ok(await broken.gw.gql(LOGGED_DECISION, { u: user, s: null, c: [sku(1)], r: null, log: true })).decisionContext;
      expect(d.logged).toBe(true);
      await broken.log.flush();
      expect(broken.log.stats.droppedWriteFailed).toBe(1);
    } finally {
      await broken.log.stop();
      await broken.gw.close();
    }
  });

  it('the decision only reads: the log is written on its own connection, after the answer', async () => {
    const before = l.gw.statements.length;
    const d = ok(await l.gw.gql(LOGGED_DECISION, { u: user, s: session, c: [sku(1)], r: region, log: true })).decisionContext;
    await rowOf(l, d.decisionId);
    const stmts = l.gw.statements.slice(before);
    expect(stmts.some((s) => /decision_log/.test(s))).toBe(false);
    // One select, or a READ ONLY transaction: nothing on the decision's connection can write.
    expect(stmts.length).toBeGreaterThan(0);
    expect(stmts.every((s) => /^\s*(select|begin isolation level repeatable read read only|commit)\b/i.test(s)), stmts.join('\n')).toBe(true);
  });
});

describe('as consistent as the answer', () => {
  /** Buyers on shared SKUs while logged decisions read them; each logged row is checked like an answer. */
  async function race(gwOpts: Parameters<typeof testGateway>[0], ms: number) {
    const q = uid('dlogc');
    const shared = Array.from({ length: 6 }, (_, i) => `${q}-${i}`);
    const r = loggedGateway({}, gwOpts);
    const writer = testGateway();
    ok(await writer.gql(UPSERT, { items: items(q, Object.fromEntries(shared.map((s) => [s.slice(q.length + 1), { available: INITIAL }]))) }));
    let done = false;
    const ids: string[] = [];
    const buy = async (w: number) => {
      for (let i = 0; !done; i++) {
        ok(await writer.gql(RECORD, { events: [0, 1].map((j) => ({
          kind: 'PURCHASE', userId: `${q}-b${w}`, sku: shared[(w + i + j * 3) % shared.length], quantity: 1 + ((i + j) % 3),
        })) }));
      }
    };
    const read = async () => {
      while (!done) {
        const d = ok(await r.gw.gql(`query($c: [ID!]!) { decisionContext(userId: "${q}-reader", candidates: $c, log: true) { decisionId } }`,
          { c: shared })).decisionContext;
        ids.push(d.decisionId);
      }
    };
    const stop = sleep(ms).then(() => { done = true; });
    await Promise.all([buy(0), buy(1), read(), read(), stop]);
    await r.log.flush();
    const rows = await r.sql<{ cursor: string; signals: any[] }[]>`
      select snapshot_cursor::text as cursor, signals from decision_log where decision_id = any(${ids}::uuid[])`;
    const log = await r.sql<{ seq: string; sku: string; available: number }[]>`
      select seq::text, key as sku, (payload->>'available')::int as available from change_log
      where topic = 'inventory' and key like ${`${q}-%`} order by change_log.seq`;
    const tears: string[] = [];
    for (const row of rows) {
      for (const s of row.signals) {
        // One statement: stock and sales move together.
        if (s.inventory.available + s.velocity.salesLast5m !== INITIAL) tears.push(`state: ${s.sku} ${s.inventory.available} + ${s.velocity.salesLast5m}`);
        // Across statements: the stock is the one the newest change at or before the row's cursor recorded.
        const at = log.filter((c) => c.sku === s.sku && BigInt(c.seq) <= BigInt(row.cursor)).pop();
        if ((at?.available ?? INITIAL) !== s.inventory.available) tears.push(`cursor: ${s.sku} at ${row.cursor}: ${s.inventory.available} vs ${at?.available}`);
      }
    }
    await r.close();
    await writer.close();
    return { rows: rows.length, ids: ids.length, tears };
  }

  it('each logged row satisfies the consistency invariants under a purchase stream', async () => {
    const res = await race({}, 3000);
    console.log('logged race:', JSON.stringify({ ...res, tears: res.tears.length }));
    expect(res.rows).toBe(res.ids);
    expect(res.rows).toBeGreaterThan(20);
    expect(res.tears).toEqual([]);
  });

  it('finds a tear in the logged rows when candidate state reads outside the snapshot', async () => {
    const res = await race({ unsafeReadOutsideTransaction: ['state'] }, 3000);
    expect(res.tears.length).toBeGreaterThan(0);
  });
});
