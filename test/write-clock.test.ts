// A write is stamped with one instant, read after its locks: the purchase's event `at`, the stock's `updatedAt`,
// the session's `lastEventAt` and the velocity slot name the same instant, and it is after the commit of the
// writer it waited for. (Stamped with the transaction's start, a purchase that waited 2 s on a hot SKU showed an
// event 2 s older than its velocity slot: counted in salesLast5s while the same decision showed it 5.8 s old.)
import { afterAll, beforeAll, expect, it } from 'vitest';
import { holdInTransaction, items, ok, ownDatabase, RECORD, testGateway, uid, UPSERT, type TestGateway } from './helpers.js';
import { until } from './live-helpers.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: TestGateway;
beforeAll(async () => {
  db = await ownDatabase(); // its own: the test waits for "a statement waiting on a lock" in this database
  gw = testGateway({ url: db.url });
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

/** Runs `write` while another transaction holds the SKU's lock; returns when that one committed (its clock at COMMIT). */
async function behindAnotherWriter(sku: string, write: () => Promise<unknown>): Promise<{ releasedAt: string; result: unknown }> {
  const other = await holdInTransaction(db.url, (tx) => tx`select 1 from sku_counters where sku = ${sku} for update`,
    async (tx) => (await tx<{ t: string }[]>`select clock_timestamp()::text as t`)[0]!.t);
  let releasedAt: string | undefined;
  try {
    const pending = write();
    await until(async () => (await db.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`).length > 0);
    releasedAt = await other.release();
    return { releasedAt: releasedAt!, result: await pending };
  } finally {
    if (releasedAt === undefined) await other.release().catch(() => {});
  }
}

it('a purchase that waited for another writer: every signal it writes names one instant, after that writer\'s commit', async () => {
  const p = uid('clock');
  const sku = `${p}-a`;
  ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 10 } }) }));
  const { releasedAt, result } = await behindAnotherWriter(sku, () =>
    gw.gql(RECORD, { events: [{ kind: 'PURCHASE', userId: `${p}-u`, sessionId: `${p}-s`, sku, quantity: 1 }] }));
  ok(result as Awaited<ReturnType<typeof gw.gql>>);
  const [row] = await db.sql<{ after: boolean; same: boolean; slot: boolean }[]>`
    select e.at > ${releasedAt}::timestamptz as after,
           e.at = i.updated_at and e.at = s.last_event_at as same,
           k.ring_ds = floor(extract(epoch from e.at) * 10)::bigint as slot
    from events e join inventory i on i.sku = e.sku join sessions s on s.id = e.session_id join sku_counters k on k.sku = e.sku
    where e.sku = ${sku}`;
  expect(row).toEqual({ after: true, same: true, slot: true });
});

it('a price or stock write that waited is stamped after the write it waited for', async () => {
  const p = uid('clock2');
  const sku = `${p}-a`;
  ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 10 } }) }));
  const price = await behindAnotherWriter(sku, () =>
    gw.gql(`mutation { setPrice(sku: "${sku}", amountMinor: 1234, currency: "EUR") { price { updatedAt } } }`));
  const stock = await behindAnotherWriter(sku, () =>
    gw.gql(`mutation { setInventory(sku: "${sku}", available: 7) { updatedAt } }`));
  for (const w of [price, stock]) ok(w.result as Awaited<ReturnType<typeof gw.gql>>);
  const [row] = await db.sql<{ price: boolean; stock: boolean }[]>`
    select (select updated_at from prices where sku = ${sku}) > ${price.releasedAt}::timestamptz as price,
           (select updated_at from inventory where sku = ${sku}) > ${stock.releasedAt}::timestamptz as stock`;
  expect(row).toEqual({ price: true, stock: true });
});
