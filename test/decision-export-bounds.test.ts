// The export's outcome counters against a hostile writer: one decision's purchased units past int4 (restocking
// between batches) must not fail the export of the whole log; like velocity windows, a counter reads as
// 2,147,483,647 above it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exportRows, type ExportRow } from '../src/reads/decision-log.js';
import { LOGGED_DECISION, loggedGateway, type Logged } from './decision-log-helpers.js';
import { items, ok, ownDatabase, RECORD, UPSERT } from './helpers.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let l: Logged;
const since = new Date(Date.now() - 60_000).toISOString();
beforeAll(async () => {
  db = await ownDatabase();
  l = loggedGateway({}, { url: db.url });
});
afterAll(async () => {
  await l?.close();
  await db?.drop();
});

it('purchased units past 2,147,483,647 on one candidate: the export still runs, the counter reads as the int4 maximum', async () => {
  ok(await l.gw.gql(UPSERT, { items: items('big', { a: { available: 1_000_000_000 } }) }));
  const other = ok(await l.gw.gql(LOGGED_DECISION, { u: 'u-other', s: null, c: ['big-a'], r: null, log: true })).decisionContext.decisionId;
  const id = ok(await l.gw.gql(LOGGED_DECISION, { u: 'u-big', s: null, c: ['big-a'], r: null, log: true })).decisionContext.decisionId;
  for (let batch = 0; batch < 3; batch++) {
    // 10,000 events of 100,000 units: the whole stock, bought, then put back.
    ok(await l.gw.gql(RECORD, { events: Array.from({ length: 10_000 }, () => (
      { kind: 'PURCHASE', userId: 'u-big', sku: 'big-a', quantity: 100_000, decisionId: id, position: 0 })) }));
    ok(await l.gw.gql('mutation { setInventory(sku: "big-a", available: 1000000000) { available } }'));
  }
  const rows: ExportRow[] = [];
  for await (const chunk of exportRows(l.sql, since, new Date(Date.now() + 60_000).toISOString(), 1800)) rows.push(...chunk);
  const mine = rows.find((r) => r.decision_id === id)!;
  expect([mine.purchases, mine.purchased_units]).toEqual([30_000, 2_147_483_647]);
  expect(rows.find((r) => r.decision_id === other)!.purchased_units).toBe(0);
}, 120_000);

it('consecutive windows [since, mid) and [mid, until) export every logged decision exactly once', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    ids.push(ok(await l.gw.gql(LOGGED_DECISION, { u: `u-window-${i}`, s: null, c: ['big-a'], r: null, log: true })).decisionContext.decisionId);
    await new Promise((r) => setTimeout(r, 5)); // distinct read times
  }
  await l.log.flush();
  const [row] = await l.sql<{ mid: string }[]>`select read_at::text as mid from decision_log where decision_id = ${ids[3]!}::uuid`;
  const mid = row!.mid;
  const window = async (from: string, to: string) => {
    const got: string[] = [];
    for await (const chunk of exportRows(l.sql, from, to, 1800)) got.push(...chunk.map((r) => r.decision_id));
    return got.filter((id) => ids.includes(id));
  };
  const end = new Date(Date.now() + 60_000).toISOString();
  const first = await window(since, mid);
  const second = await window(mid, end);
  expect([...first, ...second]).toEqual(ids); // decision order; none missing, none twice
  expect(second[0]).toBe(ids[3]); // until is exclusive, since inclusive
});
