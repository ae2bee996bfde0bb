// The documented batch limits (10,000 items per upsertItems, 10,000 events per
// recordEvents) succeed through the API under the default statement timeout
// (PG_STATEMENT_TIMEOUT_MS, 2 s), with the right `previous` and change-log entries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { MAX_EVENTS, MAX_ITEMS } from '../src/schema/inputs.js';
import { ok, ownGateway, uid, type TestGateway } from './helpers.js';

const UPSERT = `mutation($items: [ItemInput!]!) {
  upsertItems(items: $items) { count stockChanges { sku available reserved previous } } }`;
const RECORD = `mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted stock { sku available previous } } }`;

// 10,000 change-log entries would flood other files' unfiltered subscribers: a database of its own,
// and a gateway with the production defaults (pool, timeouts).
let gw: TestGateway;
beforeAll(async () => {
  gw = await ownGateway({ pool: loadConfig({}) });
});
afterAll(() => gw?.close());

const name = (p: string, i: number) => `${p}-${String(i).padStart(5, '0')}`;
const item = (sku: string, available: number) => ({ sku, title: `Item ${sku}`, category: 'big', priceMinor: 100, currency: 'EUR', available });

async function logged(p: string) {
  return gw.sql<{ sku: string; available: number; previous: number | null; reserved: number | null; cause: string }[]>`
    select key as sku, (payload->>'available')::int as available, (payload->>'previous')::int as previous,
           (payload->>'reserved')::int as reserved, payload->>'cause' as cause
    from change_log where topic = 'inventory' and key like ${`${p}-%`} order by seq`;
}

describe('batches at the documented limits, default statement timeout', () => {
  it(`upsertItems: ${MAX_ITEMS} new items, then ${MAX_ITEMS} with changed, unchanged and new stock`, async () => {
    expect(loadConfig({}).statementTimeoutMs).toBe(2000);
    const p = uid('big-up');
    const first = Array.from({ length: MAX_ITEMS }, (_, i) => item(name(p, i), i % 97));
    const created = ok(await gw.gql(UPSERT, { items: first })).upsertItems;
    expect(created.count).toBe(MAX_ITEMS);
    expect(created.stockChanges).toHaveLength(MAX_ITEMS);
    expect(created.stockChanges.every((s: any, i: number) => s.sku === name(p, i) && s.available === i % 97 && s.previous === null)).toBe(true);

    // Hold a few units on some SKUs, so `reserved` is carried through.
    await gw.sql`update inventory set reserved = 1 where sku like ${`${p}-%`} and available >= 50`;
    // Items 0..8,999 again: every third keeps its stock; 9,000..9,999 are dropped; 1,000 new ones come in.
    const second = [
      ...Array.from({ length: 9000 }, (_, i) => item(name(p, i), i % 3 === 0 ? i % 97 : (i % 97) + 1)),
      ...Array.from({ length: 1000 }, (_, i) => item(name(p, MAX_ITEMS + i), 7)),
    ].reverse(); // any input order
    const changed = ok(await gw.gql(UPSERT, { items: second })).upsertItems;
    expect(changed.count).toBe(MAX_ITEMS);
    const expected = [
      ...Array.from({ length: 9000 }, (_, i) => i).filter((i) => i % 3 !== 0)
        .map((i) => ({ sku: name(p, i), available: (i % 97) + 1, reserved: i % 97 >= 50 ? 1 : 0, previous: i % 97 })),
      ...Array.from({ length: 1000 }, (_, i) => ({ sku: name(p, MAX_ITEMS + i), available: 7, reserved: 0, previous: null })),
    ];
    expect(changed.stockChanges).toEqual(expected); // only SKUs whose stock changed, in SKU order

    const log = await logged(p);
    expect(log).toHaveLength(MAX_ITEMS + expected.length);
    expect(log.slice(0, MAX_ITEMS).map((c) => [c.sku, c.available, c.previous, c.reserved, c.cause]))
      .toEqual(first.map((it) => [it.sku, it.available, null, 0, 'UPSERT']));
    expect(log.slice(MAX_ITEMS).map(({ sku, available, reserved, previous }) => ({ sku, available, reserved, previous }))).toEqual(expected);
    const [stored] = await gw.sql<{ n: number; sum: number }[]>`
      select count(*)::int as n, sum(available)::int as sum from inventory where sku like ${`${p}-%`}`;
    expect(stored).toEqual({ n: 11_000, sum: [...first.slice(9000), ...second].reduce((s, it) => s + it.available, 0) });
  });

  it(`recordEvents: ${MAX_EVENTS} purchases over ${MAX_EVENTS} distinct SKUs`, async () => {
    const p = uid('big-ev');
    const skus = Array.from({ length: MAX_EVENTS }, (_, i) => name(p, i));
    ok(await gw.gql(UPSERT, { items: skus.map((s, i) => item(s, 10 + (i % 5))) }));
    const events = skus.map((sku, i) => ({ kind: 'PURCHASE', userId: `${p}-u${i % 100}`, sessionId: `${p}-s${i % 100}`, sku, quantity: 1 + (i % 3) }));
    const res = ok(await gw.gql(RECORD, { events })).recordEvents;
    expect(res.accepted).toBe(MAX_EVENTS);
    const expected = skus.map((sku, i) => ({ sku, available: 10 + (i % 5) - 1 - (i % 3), previous: 10 + (i % 5) }));
    expect(res.stock).toEqual(expected);

    const log = (await logged(p)).slice(MAX_EVENTS); // after the catalog load
    expect(log.map(({ sku, available, previous, reserved, cause }) => ({ sku, available, previous, reserved, cause })))
      .toEqual(expected.map((e) => ({ ...e, reserved: 0, cause: 'PURCHASE' })));
    const [counted] = await gw.sql<{ sold: number; events: number }[]>`
      select (select sum(sales_total)::int from sku_counters where sku like ${`${p}-%`}) as sold,
             (select count(*)::int from events where sku like ${`${p}-%`}) as events`;
    expect(counted).toEqual({ sold: events.reduce((s, e) => s + e.quantity, 0), events: MAX_EVENTS });
  });

  it(`recordEvents: ${MAX_EVENTS} clicks and views over distinct SKUs (counters only)`, async () => {
    const p = uid('big-cl');
    const skus = Array.from({ length: MAX_EVENTS }, (_, i) => name(p, i));
    ok(await gw.gql(UPSERT, { items: skus.map((s) => item(s, 1)) }));
    const events = skus.map((sku, i) => ({ kind: i % 2 ? 'CLICK' : 'ADD_TO_CART', userId: `${p}-u`, sku }));
    expect(ok(await gw.gql(RECORD, { events })).recordEvents).toEqual({ accepted: MAX_EVENTS, stock: [] });
    expect(await logged(p)).toHaveLength(MAX_EVENTS); // the catalog load only: clicks move no stock
  });
});
