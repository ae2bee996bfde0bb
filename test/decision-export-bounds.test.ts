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
  for await (const chunk of exportRows(l.sql, since, 1800)) rows.push(...chunk);
  const mine = rows.find((r) => r.decision_id === id)!;
  expect([mine.purchases, mine.purchased_units]).toEqual([30_000, 2_147_483_647]);
  expect(rows.find((r) => r.decision_id === other)!.purchased_units).toBe(0);
}, 120_000);
