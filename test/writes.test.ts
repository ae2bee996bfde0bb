// Atomic ingest: a purchase moves stock and sales together, an oversell
// refuses the whole batch, and concurrent buyers never share the last unit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECISION, items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('writes');
const sku = (n: string) => `${p}-${n}`;

async function footprint(skus: string[], user: string) {
  const [row] = await gw.sql<{ stock: unknown; counters: unknown; events: number; sessions: number }[]>`
    select
      (select json_object_agg(sku, available order by sku) from inventory where sku = any(${skus})) as stock,
      (select json_object_agg(sku, sales_total || '/' || clicks_total order by sku) from sku_counters where sku = any(${skus})) as counters,
      (select count(*)::int from events where user_id = ${user}) as events,
      (select count(*)::int from sessions where user_id = ${user}) as sessions`;
  return row;
}

beforeAll(async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 5 }, b: { available: 2 }, last: { available: 1 } }) }));
});
afterAll(() => gw.close());

describe('recordEvents', () => {
  it('moves stock and the sales counter in the same transaction', async () => {
    const res = ok(await gw.gql(RECORD, { events: [
      { kind: 'PURCHASE', userId: `${p}-u1`, sessionId: `${p}-s1`, sku: sku('a'), quantity: 2 },
      { kind: 'PURCHASE', userId: `${p}-u1`, sessionId: `${p}-s1`, sku: sku('a'), quantity: 1 },
    ] }));
    expect(res.recordEvents).toEqual({ accepted: 2, stock: [{ sku: sku('a'), available: 2, previous: 5 }] });
    const d = ok(await gw.gql(DECISION, { u: `${p}-u1`, c: [sku('a')] })).decisionContext;
    expect(d.candidates[0].inventory.available + d.candidates[0].velocity.salesLast5m).toBe(5);
    expect(d.user.recentPurchases.map((e: any) => e.quantity).sort()).toEqual([1, 2]);
  });

  it('refuses a whole batch that would oversell any SKU, naming it, and writes nothing', async () => {
    const user = `${p}-u2`;
    const before = await footprint([sku('a'), sku('b')], user);
    const res = await gw.gql(RECORD, { events: [
      { kind: 'CLICK', userId: user, sessionId: `${p}-s2`, sku: sku('a') },
      { kind: 'PURCHASE', userId: user, sessionId: `${p}-s2`, sku: sku('a'), quantity: 1 },
      { kind: 'PURCHASE', userId: user, sessionId: `${p}-s2`, sku: sku('b'), quantity: 3 },
    ] });
    expect(res.status).toBe(200);
    expect(res.data).toBeNull();
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'INSUFFICIENT_STOCK', skus: [sku('b')] });
    expect(res.errors![0]!.message).toContain(sku('b'));
    expect(await footprint([sku('a'), sku('b')], user)).toEqual(before);
  });

  it('refuses a batch naming an unknown SKU and writes nothing', async () => {
    const user = `${p}-u3`;
    const before = await footprint([sku('a')], user);
    const res = await gw.gql(RECORD, { events: [
      { kind: 'PURCHASE', userId: user, sku: sku('a') },
      { kind: 'CLICK', userId: user, sku: sku('missing') },
    ] });
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND', skus: [sku('missing')] });
    expect(await footprint([sku('a')], user)).toEqual(before);
  });

  it('gives the last unit to exactly one of many concurrent buyers', async () => {
    const buyers = Array.from({ length: 12 }, (_, i) => gw.gql(RECORD, { events: [
      { kind: 'CLICK', userId: `${p}-racer${i}`, sku: sku('a') },
      { kind: 'PURCHASE', userId: `${p}-racer${i}`, sku: sku('last'), quantity: 1 },
    ] }));
    const results = await Promise.all(buyers);
    const won = results.filter((r) => r.data?.recordEvents);
    const lost = results.filter((r) => r.errors?.[0]?.extensions?.code === 'INSUFFICIENT_STOCK');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(11);
    const [row] = await gw.sql`select i.available, k.sales_total::int as sold, k.clicks_total::int as clicks
      from inventory i join sku_counters k using (sku) where sku = ${sku('last')}`;
    expect(row).toEqual({ available: 0, sold: 1, clicks: 0 });
    const [count] = await gw.sql`select count(*)::int as n from events where user_id like ${`${p}-racer%`}`;
    expect(count!.n).toBe(2); // only the winner's click and purchase
  });
});

describe('other writes', () => {
  it('upsertItems replaces stock and reports only SKUs whose stock changed', async () => {
    const q = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { count stockChanges { sku available previous } } }`;
    const again = items(p, { b: { available: 2 }, c: { available: 4 } });
    const res = ok(await gw.gql(q, { items: again }));
    expect(res.upsertItems).toEqual({ count: 2, stockChanges: [{ sku: sku('c'), available: 4, previous: null }] });
  });

  it('setPolicyFlag records the reason and when it changed; a repeat keeps changedAt', async () => {
    const m = `mutation { setPolicyFlag(scope: SKU, target: "${sku('b')}", kind: QUALITY_HOLD, active: true, reason: "recall") { active reason changedAt } }`;
    const first = ok(await gw.gql(m)).setPolicyFlag;
    const second = ok(await gw.gql(m)).setPolicyFlag;
    expect(first).toMatchObject({ active: true, reason: 'recall' });
    expect(second.changedAt).toBe(first.changedAt);
  });

  it('setInventory and setPrice on an unknown SKU answer NOT_FOUND', async () => {
    const a = await gw.gql(`mutation { setInventory(sku: "${sku('zzz')}", available: 1) { available } }`);
    const b = await gw.gql(`mutation { setPrice(sku: "${sku('zzz')}", amountMinor: 1, currency: "EUR") { sku } }`);
    expect(a.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    expect(b.errors![0]!.extensions!.code).toBe('NOT_FOUND');
  });
});
