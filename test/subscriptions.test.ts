// Live subscriptions through real clients (graphql-ws and SSE): only committed
// changes, commit order, no gap, no duplicate, resumable from a cursor.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { items, uid } from './helpers.js';
import { appendChanges } from '../src/live/changelog.js';
import { liveGateway, post, sleep, sseSubscribe, until, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';

const INV = `subscription($skus: [ID!], $after: String) {
  inventoryChanged(skus: $skus, after: $after) { cursor sku available previous cause committedAt } }`;
const FLIPS = `subscription($scopes: [PolicyScope!], $after: String) {
  policyFlipped(scopes: $scopes, after: $after) { cursor active committedAt flag { scope target kind active reason } } }`;
const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { count } }`;
const BUY = `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`;
const SET = `mutation($sku: ID!, $n: Int!) { setInventory(sku: $sku, available: $n) { available } }`;

let gw: LiveGateway;
const p = uid('live');
const sku = (n: string | number) => `${p}-${n}`;

beforeAll(async () => {
  gw = await liveGateway();
  await post(gw.url, UPSERT, { items: items(p, { a: { available: 10 }, b: { available: 2 }, c: { available: 5 } }) });
});
// Each test starts with no subscriber left over from the one before.
afterEach(() => until(() => gw.hub.subscriberCount === 0));
afterAll(() => gw.stop());

describe('inventoryChanged over graphql-ws', () => {
  it('pushes every committed change of available from each write path, and nothing else', async () => {
    const client = wsClient(gw.wsUrl);
    const before = gw.hub.subscriberCount;
    const s = wsSubscribe(client, INV, { skus: [sku('a'), sku('b'), sku('c')] });
    await until(() => gw.hub.subscriberCount > before);

    await post(gw.url, SET, { sku: sku('a'), n: 9 });                                   // setInventory
    await post(gw.url, SET, { sku: sku('a'), n: 9 });                                   // no change: nothing
    await post(gw.url, BUY, { e: [{ kind: 'PURCHASE', userId: 'u', sku: sku('b'), quantity: 2 }] }); // purchase
    const refused = await post(gw.url, BUY, { e: [
      { kind: 'PURCHASE', userId: 'u', sku: sku('a'), quantity: 1 },
      { kind: 'PURCHASE', userId: 'u', sku: sku('b'), quantity: 1 },
    ] });                                                                                  // refused whole: nothing
    expect(refused.errors[0].extensions.code).toBe('INSUFFICIENT_STOCK');
    await post(gw.url, BUY, { e: [{ kind: 'CLICK', userId: 'u', sku: sku('c') }] });     // a click: no stock change
    await post(gw.url, UPSERT, { items: items(p, { c: { available: 7 } }) });            // upsertItems
    await post(gw.url, UPSERT, { items: items(p, { c: { available: 7 } }) });            // same stock: nothing

    const got = (await s.waitFor(3)).map((x: any) => x.inventoryChanged);
    await sleep(300);
    expect(s.items).toHaveLength(3);
    expect(got.map(({ sku: k, available, previous, cause }: any) => ({ sku: k, available, previous, cause }))).toEqual([
      { sku: sku('a'), available: 9, previous: 10, cause: 'SET_INVENTORY' },
      { sku: sku('b'), available: 0, previous: 2, cause: 'PURCHASE' },
      { sku: sku('c'), available: 7, previous: 5, cause: 'UPSERT' },
    ]);
    const cursors = got.map((x: any) => Number(x.cursor));
    expect([...cursors].sort((x, y) => x - y)).toEqual(cursors);
    s.close();
    await client.dispose();
  });
});

describe('filters', () => {
  it('apply when written inline in the document, not only as variables', async () => {
    const client = wsClient(gw.wsUrl);
    const s = wsSubscribe(client, `subscription { inventoryChanged(skus: ["${sku('c')}"]) { sku available } }`);
    await until(() => gw.hub.subscriberCount === 1);
    await post(gw.url, SET, { sku: sku('b'), n: 50 });
    await post(gw.url, SET, { sku: sku('c'), n: 51 });
    await s.waitFor(1);
    await sleep(300);
    expect(s.items.map((x: any) => x.inventoryChanged)).toEqual([{ sku: sku('c'), available: 51 }]);
    s.close();
    await client.dispose();
  });
});

describe('policyFlipped over SSE', () => {
  it('pushes flips of active only, filtered by scope', async () => {
    const before = gw.hub.subscriberCount;
    const s = sseSubscribe(gw.url, FLIPS, { scopes: ['SKU', 'CATEGORY'] });
    await until(() => gw.hub.subscriberCount > before);
    const flag = (scope: string, target: string, active: boolean) => post(gw.url,
      `mutation { setPolicyFlag(scope: ${scope}, target: "${target}", kind: ${scope === 'USER' ? 'FRAUD' : 'QUALITY_HOLD'}, active: ${active}, reason: "r") { active } }`);
    await flag('SKU', sku('a'), true);
    await flag('SKU', sku('a'), true);        // no flip
    await flag('USER', `${p}-user`, true);    // other scope
    await flag('CATEGORY', `${p}-cat`, true);
    await flag('SKU', sku('a'), false);
    const got = (await s.waitFor(3)).map((x: any) => x.policyFlipped);
    await sleep(300);
    expect(s.items).toHaveLength(3);
    expect(got.map((x: any) => [x.flag.scope, x.flag.target, x.active])).toEqual([
      ['SKU', sku('a'), true], ['CATEGORY', `${p}-cat`, true], ['SKU', sku('a'), false],
    ]);
    s.close();
    await until(() => gw.hub.subscriberCount === before);
  });
});

describe('order and completeness under concurrent writers', () => {
  it('gives every subscriber every change of each SKU exactly once, in commit order', async () => {
    const writers = 8;
    const perWriter = 25;
    const skus = Array.from({ length: writers }, (_, i) => sku(`w${i}`));
    await post(gw.url, UPSERT, { items: items(p, Object.fromEntries(skus.map((s) => [s.slice(p.length + 1), { available: 1000 }]))) });
    const clients = [wsClient(gw.wsUrl), wsClient(gw.wsUrl)];
    const before = gw.hub.subscriberCount;
    const streams = [
      wsSubscribe(clients[0]!, INV, { skus }), wsSubscribe(clients[1]!, INV, { skus }), sseSubscribe(gw.url, INV, { skus }),
    ];
    await until(() => gw.hub.subscriberCount === before + streams.length);
    await Promise.all(skus.map(async (s) => {
      for (let i = 0; i < perWriter; i++) {
        const r = await post(gw.url, BUY, { e: [{ kind: 'PURCHASE', userId: 'w', sku: s, quantity: 1 }] });
        expect(r.errors).toBeUndefined();
      }
    }));
    for (const st of streams) {
      const got = (await st.waitFor(writers * perWriter)).map((x: any) => x.inventoryChanged);
      const cursors = got.map((x: any) => Number(x.cursor));
      expect(new Set(cursors).size).toBe(cursors.length);                      // no duplicate
      expect([...cursors].sort((x, y) => x - y)).toEqual(cursors);             // commit (= seq) order
      for (const s of skus) {
        const seen = got.filter((x: any) => x.sku === s).map((x: any) => x.available);
        expect(seen).toEqual(Array.from({ length: perWriter }, (_, i) => 999 - i)); // every change, in order
      }
      st.close();
    }
    await Promise.all(clients.map((c) => c.dispose()));
  });
});

describe('cursors', () => {
  it('after: replays exactly what followed the cursor, then continues live with no gap or duplicate at the seam', async () => {
    const k = sku('resume');
    await post(gw.url, UPSERT, { items: items(p, { resume: { available: 100 } }) });
    const client = wsClient(gw.wsUrl);
    const first = wsSubscribe(client, INV, { skus: [k] });
    await until(() => gw.hub.subscriberCount > 0);
    await sleep(50);
    for (let n = 99; n >= 95; n--) await post(gw.url, SET, { sku: k, n });
    const firstFive = (await first.waitFor(5)).map((x: any) => x.inventoryChanged);
    first.close();
    const cursor = firstFive[1].cursor; // resume after the 2nd change (available 98)

    // Writes keep landing while the resumed subscription replays and goes live.
    const writing = (async () => { for (let n = 94; n >= 80; n--) await post(gw.url, SET, { sku: k, n }); })();
    const resumed = wsSubscribe(client, INV, { skus: [k], after: cursor });
    await writing;
    const got = (await resumed.waitFor(3 + 15)).map((x: any) => x.inventoryChanged.available);
    expect(got).toEqual(Array.from({ length: 18 }, (_, i) => 97 - i));
    await sleep(200);
    expect(resumed.items).toHaveLength(18);
    resumed.close();
    await client.dispose();
  });

  it('a cursor older than retention ends with CURSOR_EXPIRED; a malformed one with BAD_USER_INPUT', async () => {
    await gw.sql`update change_log_meta set pruned_through = greatest(pruned_through, 1) where id = 1`;
    const client = wsClient(gw.wsUrl);
    const expired = wsSubscribe(client, INV, { after: '0' });
    await expired.done;
    expect(JSON.stringify(expired.errors)).toContain('CURSOR_EXPIRED');
    const bad = wsSubscribe(client, INV, { after: 'yesterday' });
    await bad.done;
    expect(JSON.stringify(bad.errors)).toContain('BAD_USER_INPUT');
    await client.dispose();
  });
});

describe('resources', () => {
  it('1,000 subscribers that connect and disconnect leave no subscriber behind', async () => {
    const base = gw.hub.subscriberCount;
    // Three sockets: each stays under WS_MAX_SUBSCRIPTIONS (100).
    const clients = [0, 1, 2].map(() => wsClient(gw.wsUrl));
    for (let round = 0; round < 4; round++) {
      const streams = Array.from({ length: 250 }, (_, i) => wsSubscribe(clients[i % 3]!, INV, { skus: [sku('a')] }));
      await until(() => gw.hub.subscriberCount === base + 250, 10_000);
      for (const s of streams) s.close();
      await until(() => gw.hub.subscriberCount === base, 10_000);
    }
    // Dropped connections (no complete message) free their subscribers too.
    const raw = Array.from({ length: 20 }, () => wsClient(gw.wsUrl));
    raw.forEach((c) => wsSubscribe(c, INV, { skus: [sku('a')] }));
    await until(() => gw.hub.subscriberCount === base + 20, 10_000);
    await Promise.all(raw.map((c) => c.dispose()));
    await until(() => gw.hub.subscriberCount === base, 10_000);
    await Promise.all(clients.map((c) => c.dispose()));
    expect(gw.hub.subscriberCount).toBe(base);
  });
});

describe('the feed reads through a pool of its own', () => {
  it('replays while every decision connection is taken, and decisions answer while the feed pool is taken', async () => {
    const { cursor } = (await post(gw.url, `{ decisionContext(userId: "u", candidates: []) { snapshot { cursor } } }`)).data.decisionContext.snapshot;
    await post(gw.url, SET, { sku: sku('c'), n: 41 });
    await post(gw.url, SET, { sku: sku('c'), n: 42 });
    // Every connection of the decision pool held: a replay still arrives.
    const held = await Promise.all(Array.from({ length: 10 }, () => gw.sql.reserve()));
    const client = wsClient(gw.wsUrl);
    const s = wsSubscribe(client, INV, { skus: [sku('c')], after: cursor });
    expect((await s.waitFor(2)).map((c: any) => c.inventoryChanged.available)).toEqual([41, 42]);
    s.close();
    await client.dispose();
    for (const c of held) c.release();
    // Every connection of the feed pool held: decisions still answer.
    const feedHeld = await Promise.all([gw.feedSql.reserve(), gw.feedSql.reserve()]);
    const d = await post(gw.url, `{ decisionContext(userId: "u", candidates: ["${sku('c')}"]) { candidates { inventory { available } } } }`);
    expect(d.data.decisionContext.candidates[0].inventory.available).toBe(42);
    for (const c of feedHeld) c.release();
  });
});

describe('sellable stock (available − reserved)', () => {
  const SELL = `subscription($skus: [ID!], $after: String) {
    inventoryChanged(skus: $skus, after: $after) { sku available previous reserved previousReserved sellable cause } }`;
  const SET_R = `mutation($sku: ID!, $n: Int!, $r: Int) { setInventory(sku: $sku, available: $n, reserved: $r) { available } }`;

  it('a change of reserved alone pushes one change with the new sellable; a write that changes neither pushes nothing', async () => {
    const k = sku('sell');
    await post(gw.url, UPSERT, { items: items(p, { sell: { available: 5 } }) });
    const client = wsClient(gw.wsUrl);
    const s = wsSubscribe(client, SELL, { skus: [k] });
    await until(() => gw.hub.subscriberCount === 1);

    await post(gw.url, SET_R, { sku: k, n: 5, r: 5 });                                   // reserved only: sold out
    await post(gw.url, SET_R, { sku: k, n: 5, r: 5 });                                   // neither: nothing
    await post(gw.url, SET_R, { sku: k, n: 5 });                                         // reserved kept: nothing
    await post(gw.url, UPSERT, { items: items(p, { sell: { available: 5 } }) });         // same stock: nothing
    await post(gw.url, SET_R, { sku: k, n: 8, r: 5 });                                   // available only
    await post(gw.url, BUY, { e: [{ kind: 'PURCHASE', userId: 'u', sku: k, quantity: 2 }] }); // a purchase
    await post(gw.url, SET_R, { sku: k, n: 6, r: 0 });                                   // reserved released

    const got = (await s.waitFor(4)).map((x: any) => x.inventoryChanged);
    await sleep(300);
    expect(s.items).toHaveLength(4);
    expect(got).toEqual([
      { sku: k, available: 5, previous: 5, reserved: 5, previousReserved: 0, sellable: 0, cause: 'SET_INVENTORY' },
      { sku: k, available: 8, previous: 5, reserved: 5, previousReserved: 5, sellable: 3, cause: 'SET_INVENTORY' },
      { sku: k, available: 6, previous: 8, reserved: 5, previousReserved: 5, sellable: 1, cause: 'PURCHASE' },
      { sku: k, available: 6, previous: 6, reserved: 0, previousReserved: 5, sellable: 6, cause: 'SET_INVENTORY' },
    ]);
    s.close();
    await client.dispose();
  });

  it('a new SKU: previous and previousReserved null; entries logged before reserved was pushed: reserved and sellable null', async () => {
    const { cursor } = (await post(gw.url, `{ decisionContext(userId: "u", candidates: []) { snapshot { cursor } } }`)).data.decisionContext.snapshot;
    const k = sku('legacy');
    await post(gw.url, UPSERT, { items: items(p, { legacy: { available: 4 } }) });
    // As written before this change: no reserved, no previousReserved.
    await gw.sql.begin((tx) => appendChanges(tx, [{ topic: 'inventory', key: k, payload: { sku: k, available: 3, previous: 4, cause: 'PURCHASE' } }]));
    const client = wsClient(gw.wsUrl);
    const s = wsSubscribe(client, SELL, { skus: [k], after: cursor });
    expect((await s.waitFor(2)).map((x: any) => x.inventoryChanged)).toEqual([
      { sku: k, available: 4, previous: null, reserved: 0, previousReserved: null, sellable: 4, cause: 'UPSERT' },
      { sku: k, available: 3, previous: 4, reserved: null, previousReserved: null, sellable: null, cause: 'PURCHASE' },
    ]);
    s.close();
    await client.dispose();
  });
});
