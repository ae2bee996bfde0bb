// A statement cancelled by statement_timeout (57014) is TIMEOUT: the work took
// longer than PG_STATEMENT_TIMEOUT_MS, nothing was written, split the batch.
// Never UNAVAILABLE ("retry shortly"): the database is up, and the same batch
// would time out again.
import { afterAll, describe, expect, it } from 'vitest';
import { ok, testGateway, uid } from './helpers.js';

const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { count } }`;
const RECORD = `mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted } }`;
const SET = `mutation($s: ID!) { setInventory(sku: $s, available: 1) { available } }`;

const gw = testGateway();
// The same schema with a 200 ms statement timeout.
const short = testGateway({ pool: { poolMax: 4, connectTimeoutSeconds: 2, statementTimeoutMs: 200 } });
afterAll(async () => {
  await short.close();
  await gw.close();
});

const item = (sku: string) => ({ sku, title: `Item ${sku}`, category: 'slow', priceMinor: 100, currency: 'EUR', available: 5 });

describe('statement timeout', () => {
  it('is TIMEOUT (took longer than PG_STATEMENT_TIMEOUT_MS, nothing written, split the batch), not UNAVAILABLE', async () => {
    const p = uid('slow');
    const skus = [0, 1, 2].map((i) => `${p}-${i}`);
    ok(await gw.gql(UPSERT, { items: skus.map(item) }));
    // Another transaction holds one SKU's lock, so each write waits on it past the 200 ms statement timeout.
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => { locked = r; });
    const holder = gw.sql.begin(async (tx) => {
      await tx`select 1 from sku_counters where sku = ${skus[1]!} for update`;
      locked();
      await held;
    });
    try {
      await isLocked;
      const results = await Promise.all([
        short.gql(UPSERT, { items: skus.map((s) => ({ ...item(s), available: 9 })) }),
        short.gql(RECORD, { events: skus.map((sku) => ({ kind: 'PURCHASE', userId: `${p}-u`, sku })) }),
        short.gql(SET, { s: skus[1] }),
      ]);
      for (const res of results) {
        expect(res.data).toBeNull();
        expect(res.errors).toHaveLength(1);
        const e = res.errors![0]!;
        expect(e.extensions).toEqual({ code: 'TIMEOUT' });
        expect(e.message).toMatch(/longer than the statement timeout \(PG_STATEMENT_TIMEOUT_MS\)/);
        expect(e.message).toMatch(/nothing was written/);
        expect(e.message).toMatch(/split the batch/);
        expect(e.message).not.toMatch(/unavailable|retry shortly/i);
        // A refused write like any other: no 5xx or Retry-After for retry middleware to repeat.
        expect(res.status).toBe(200);
      }
    } finally {
      release();
      await holder;
    }
    const [after] = await gw.sql<{ stock: number[]; events: number; log: number }[]>`
      select array(select available from inventory where sku like ${`${p}-%`} order by sku) as stock,
             (select count(*)::int from events where user_id = ${`${p}-u`}) as events,
             (select count(*)::int from change_log where topic = 'inventory' and key like ${`${p}-%`}) as log`;
    expect(after).toEqual({ stock: [5, 5, 5], events: 0, log: 3 }); // the catalog load only
  });
});
