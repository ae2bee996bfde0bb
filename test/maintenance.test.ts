// Retention keeps what readers need: velocity answers are the same before and
// after pruning, and pruned change-log entries are remembered as expired.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { logBounds, pruneChanges } from '../src/live/changelog.js';
import { pruneVelocity } from '../src/db/maintenance.js';
import { DECISION, items, ok, ownDatabase, testGateway, uid, UPSERT, type TestGateway } from './helpers.js';

// Retention works on whole tables: give it a database of its own.
let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: TestGateway;
const p = uid('maint');
beforeAll(async () => {
  db = await ownDatabase();
  gw = testGateway({ url: db.url });
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

it('prunes velocity checkpoints no window can reach, without changing any window', async () => {
  const k = `${p}-a`;
  ok(await gw.gql(UPSERT, { items: items(p, { a: {} }) }));
  const [{ s0 }] = (await gw.sql`select floor(extract(epoch from now()))::int as s0`) as unknown as [{ s0: number }];
  await gw.sql`
    insert into velocity_seconds (sku, sec, sales_cum, clicks_cum)
    select ${k}, ${s0} - d, c, c from (values (1000, 1), (800, 2), (500, 3), (400, 4), (100, 6), (10, 7)) as v(d, c)`;
  await gw.sql`update sku_counters set sales_total = 8, clicks_total = 8 where sku = ${k}`;
  const velocity = async () => ok(await gw.gql(DECISION, { u: 'u', c: [k] })).decisionContext.candidates[0].velocity;
  const before = await velocity();
  expect(before).toEqual({ salesLast5s: 1, salesLast5m: 4, clicksLast30s: 2 });
  await pruneVelocity(gw.sql);
  const left = await gw.sql`select (${s0} - sec)::int as age from velocity_seconds where sku = ${k} order by sec`;
  expect(left.map((r) => r.age)).toEqual([400, 100, 10]);
  expect(await velocity()).toEqual(before);
});

it('drops change-log entries past retention and records how far, for CURSOR_EXPIRED', async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { old1: {}, old2: {} }) }));
  const [row] = await gw.sql<{ max: string }[]>`select max(seq)::text as max from change_log where key in (${`${p}-old1`}, ${`${p}-old2`})`;
  await gw.sql`update change_log set committed_at = now() - interval '2 days' where seq <= ${Number(row!.max)}`;
  ok(await gw.gql(UPSERT, { items: items(p, { fresh: {} }) }));
  await pruneChanges(gw.sql, 86_400);
  const bounds = await logBounds(gw.sql);
  expect(bounds.prunedThrough).toBeGreaterThanOrEqual(Number(row!.max));
  const [{ n }] = (await gw.sql`select count(*)::int as n from change_log where seq <= ${Number(row!.max)}`) as unknown as [{ n: number }];
  expect(n).toBe(0);
  const [fresh] = await gw.sql`select 1 from change_log where key = ${`${p}-fresh`}`;
  expect(fresh).toBeDefined();
});
