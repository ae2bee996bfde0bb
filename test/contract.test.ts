import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECISION, items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('contract');
const sku = (n: string) => `${p}-${n}`;

beforeAll(async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 7, price: 2500 }, b: { available: 3 } }) }));
  ok(await gw.gql(`mutation { setFulfillment(region: "${p}-r", nextSlotAt: "2030-01-01T10:00:00Z", congestion: 0.25, latencyMinutes: 90) { region } }`));
  await gw.sql`insert into users (id, segment) values (${`${p}-u`}, 'loyal')`;
});
afterAll(() => gw.close());

describe('decisionContext contract', () => {
  it('answers every signal of every candidate, in request order, duplicates included', async () => {
    const c = [sku('b'), sku('a'), sku('b'), sku('ghost')];
    const d = ok(await gw.gql(DECISION, { u: `${p}-u`, c, r: `${p}-r` })).decisionContext;
    expect(d.candidates.map((x: any) => x.sku)).toEqual(c);
    const a = d.candidates[1];
    expect(a.item).toEqual({ sku: sku('a'), title: 'Item a', category: `${p}-cat` });
    expect(a.inventory).toMatchObject({ available: 7, reserved: 0 });
    expect(a.price).toMatchObject({ amountMinor: 2500, currency: 'EUR', listAmountMinor: 2500 });
    expect(a.fulfillment).toEqual({ region: `${p}-r`, nextSlotAt: '2030-01-01T10:00:00.000Z', congestion: 0.25, latencyMinutes: 90 });
    expect(a.velocity).toEqual({ salesLast5s: 0, salesLast5m: 0, clicksLast30s: 0 });
    expect(a).toMatchObject({ eligible: true, reasons: [], policy: [] });
    expect(d.candidates[0]).toEqual(d.candidates[2]);
    const ghost = d.candidates[3];
    expect(ghost).toMatchObject({ item: null, inventory: null, price: null, eligible: false, reasons: ['UNKNOWN_ITEM'] });
    expect(d.user).toEqual({ id: `${p}-u`, segment: 'loyal', flags: [], recentPurchases: [] });
    expect(d.session).toBeNull();
  });

  it('reports the snapshot it read: pg_current_snapshot() and the transaction clock', async () => {
    const before = Date.now();
    const d = ok(await gw.gql(DECISION, { u: `${p}-u`, c: [sku('a')] })).decisionContext;
    expect(d.snapshot.id).toMatch(/^\d+:\d+:[\d,]*$/);
    const readAt = Date.parse(d.snapshot.readAt);
    expect(readAt).toBeGreaterThanOrEqual(before - 1000);
    expect(readAt).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('returns an empty candidate list for no candidates, and BROWSING with no events for an unknown session', async () => {
    const d = ok(await gw.gql(DECISION, { u: `${p}-nobody`, s: `${p}-no-session`, c: [] })).decisionContext;
    expect(d.candidates).toEqual([]);
    expect(d.user.segment).toBeNull();
    expect(d.session).toEqual({ id: `${p}-no-session`, intent: 'BROWSING', lastEventAt: null, recentEvents: [] });
  });

  it('lists recent purchases and session events newest first, honouring limits beyond the prefetch', async () => {
    const u = `${p}-buyer`;
    const s = `${p}-sess`;
    const batch = Array.from({ length: 25 }, (_, i) => ({ kind: 'VIEW', userId: u, sessionId: s, sku: sku('a'), quantity: 1 + i }));
    ok(await gw.gql(RECORD, { events: batch }));
    ok(await gw.gql(RECORD, { events: [{ kind: 'PURCHASE', userId: u, sessionId: s, sku: sku('a'), quantity: 2 }] }));
    const q = `query($u: ID!, $s: ID) { decisionContext(userId: $u, sessionId: $s, candidates: []) {
      user { recentPurchases(limit: 1) { kind sku quantity } }
      session { lastEventAt d: recentEvents { quantity } few: recentEvents(limit: 2) { kind quantity } all: recentEvents(limit: 30) { quantity } } } }`;
    const d = ok(await gw.gql(q, { u, s })).decisionContext;
    expect(d.user.recentPurchases).toEqual([{ kind: 'PURCHASE', sku: sku('a'), quantity: 2 }]);
    expect(d.session.d).toHaveLength(20);
    expect(d.session.few).toEqual([{ kind: 'PURCHASE', quantity: 2 }, { kind: 'VIEW', quantity: 25 }]);
    expect(d.session.all.map((e: any) => e.quantity)).toEqual([2, ...Array.from({ length: 25 }, (_, i) => 25 - i)]);
    expect(d.session.lastEventAt).not.toBeNull();
  });

  it('lists the catalog by search and category; the snapshot names its change-log position', async () => {
    const q = `query($s: String, $c: String) { catalog(search: $s, category: $c) { sku category } }`;
    expect(ok(await gw.gql(q, { s: `${p}-A` })).catalog).toEqual([{ sku: sku('a'), category: `${p}-cat` }]);
    expect(ok(await gw.gql(q, { c: `${p}-cat` })).catalog.map((i: any) => i.sku)).toEqual([sku('a'), sku('b')]);
    expect(ok(await gw.gql(q, { s: '%' })).catalog.filter((i: any) => i.sku.startsWith(p))).toEqual([]); // % is literal
    const snap = ok(await gw.gql('{ decisionContext(userId: "u", candidates: []) { snapshot { cursor } } }')).decisionContext.snapshot;
    const [head] = await gw.sql`select coalesce(max(seq), 0)::text as seq from change_log`;
    expect(Number(snap.cursor)).toBeLessThanOrEqual(Number(head!.seq));
    expect(Number(snap.cursor)).toBeGreaterThan(0);
  });

  it('lets writes change what the next decision sees', async () => {
    ok(await gw.gql(`mutation { setInventory(sku: "${sku('b')}", available: 9, reserved: 4) { available reserved previous } }`));
    ok(await gw.gql(`mutation { setPrice(sku: "${sku('b')}", amountMinor: 800, currency: "EUR") { price { amountMinor listAmountMinor } } }`));
    const d = ok(await gw.gql(DECISION, { u: `${p}-u`, c: [sku('b')] })).decisionContext;
    expect(d.candidates[0].inventory).toMatchObject({ available: 9, reserved: 4 });
    expect(d.candidates[0].price).toMatchObject({ amountMinor: 800, listAmountMinor: 1000 });
    const usd = ok(await gw.gql(`mutation { setPrice(sku: "${sku('b')}", amountMinor: 900, currency: "USD") { price { amountMinor listAmountMinor currency } } }`));
    expect(usd.setPrice.price).toEqual({ amountMinor: 900, listAmountMinor: 900, currency: 'USD' });
  });
});
