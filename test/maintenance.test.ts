// Retention keeps what readers need: pruned change-log entries are remembered
// as expired, so an old cursor is refused rather than silently skipping.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { logBounds, pruneChanges } from '../src/live/changelog.js';
import { items, ok, ownDatabase, testGateway, uid, UPSERT, type TestGateway } from './helpers.js';

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
