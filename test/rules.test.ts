// Each ineligibility reason, intent transitions and velocity windows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFacts } from '../src/reads/decision-sql.js';
import { bumpCounters } from '../src/writes/velocity.js';
import { DECISION, items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('rules');
const sku = (n: string) => `${p}-${n}`;
const decide = async (vars: Record<string, unknown>) => ok(await gw.gql(DECISION, { u: `${p}-u`, ...vars })).decisionContext;
const flag = (scope: string, target: string, kind: string, active: boolean) =>
  gw.gql(`mutation($t: ID!) { setPolicyFlag(scope: ${scope}, target: $t, kind: ${kind}, active: ${active}, reason: "test") { active } }`, { t: target });

beforeAll(async () => {
  ok(await gw.gql(UPSERT, {
    items: items(p, {
      fine: {}, empty: { available: 0 }, held: { category: `${p}-tools` }, gated: { category: `${p}-risky` },
      inHeldCat: { category: `${p}-heldcat` }, c1: { category: `${p}-shoes` }, c2: { category: `${p}-shoes` }, c3: { category: `${p}-shoes` },
    }),
  }));
  ok(await gw.gql(`mutation { setFulfillment(region: "${p}-open", nextSlotAt: "2031-05-01T08:00:00Z", congestion: 0.1) { region } }`));
  ok(await gw.gql(`mutation { setFulfillment(region: "${p}-closed", nextSlotAt: null, congestion: 1) { region } }`));
  ok(await gw.gql(`mutation { setFulfillment(region: "${p}-past", nextSlotAt: "2001-01-01T00:00:00Z", congestion: 0.1) { region } }`));
});
afterAll(() => gw.close());

describe('ineligibility reasons', () => {
  it('OUT_OF_STOCK when available − reserved < 1', async () => {
    ok(await gw.gql(`mutation { setInventory(sku: "${sku('fine')}", available: 5, reserved: 5) { available } }`));
    const d = await decide({ c: [sku('empty'), sku('fine')] });
    expect(d.candidates.map((c: any) => c.reasons)).toEqual([['OUT_OF_STOCK'], ['OUT_OF_STOCK']]);
    ok(await gw.gql(`mutation { setInventory(sku: "${sku('fine')}", available: 6, reserved: 5) { available } }`));
    expect((await decide({ c: [sku('fine')] })).candidates[0]).toMatchObject({ eligible: true, reasons: [] });
  });

  it('QUALITY_HOLD and RISK_GATE from a flag on the SKU or on its category; policy lists them', async () => {
    ok(await flag('SKU', sku('held'), 'QUALITY_HOLD', true));
    ok(await flag('CATEGORY', `${p}-risky`, 'RISK_GATE', true));
    ok(await flag('CATEGORY', `${p}-heldcat`, 'QUALITY_HOLD', true));
    const d = await decide({ c: [sku('held'), sku('gated'), sku('inHeldCat'), sku('fine')] });
    expect(d.candidates.map((c: any) => c.reasons)).toEqual([['QUALITY_HOLD'], ['RISK_GATE'], ['QUALITY_HOLD'], []]);
    expect(d.candidates[1].policy).toMatchObject([{ scope: 'CATEGORY', target: `${p}-risky`, kind: 'RISK_GATE', active: true, reason: 'test' }]);
    ok(await flag('SKU', sku('held'), 'QUALITY_HOLD', false));
    const after = await decide({ c: [sku('held')] });
    expect(after.candidates[0]).toMatchObject({ eligible: true, policy: [] });
  });

  it('a SKU gets its own flags and its category\'s; a sibling only the category\'s', async () => {
    ok(await gw.gql(UPSERT, { items: items(p, { both: { category: `${p}-mixed` }, sibling: { category: `${p}-mixed` } }) }));
    ok(await flag('SKU', sku('both'), 'QUALITY_HOLD', true));
    ok(await flag('CATEGORY', `${p}-mixed`, 'RISK_GATE', true));
    const d = await decide({ c: [sku('both'), sku('sibling'), sku('both')] });
    expect(d.candidates.map((c: any) => c.reasons)).toEqual([['QUALITY_HOLD', 'RISK_GATE'], ['RISK_GATE'], ['QUALITY_HOLD', 'RISK_GATE']]);
    expect(d.candidates[0].policy.map((f: any) => `${f.scope}:${f.kind}`).sort()).toEqual(['CATEGORY:RISK_GATE', 'SKU:QUALITY_HOLD']);
    expect(d.candidates[1].policy.map((f: any) => `${f.scope}:${f.kind}`)).toEqual(['CATEGORY:RISK_GATE']);
  });

  it('a flag whose kind has no effect on its scope is refused and writes nothing', async () => {
    const pairs = [['SKU', 'FRAUD'], ['CATEGORY', 'FRAUD'], ['USER', 'QUALITY_HOLD'], ['USER', 'RISK_GATE']] as const;
    for (const [scope, kind] of pairs) {
      const target = `${p}-mismatch-${scope}-${kind}`;
      const res = await flag(scope, target, kind, true);
      expect(res.errors?.[0]?.extensions, `${scope} ${kind}`).toMatchObject({ code: 'BAD_USER_INPUT', field: 'kind' });
      expect(await gw.sql`select 1 from policy_flags where target = ${target}`).toHaveLength(0);
    }
  });

  it('USER_FRAUD applies to every candidate of a flagged user', async () => {
    const u = `${p}-fraudster`;
    ok(await flag('USER', u, 'FRAUD', true));
    const d = ok(await gw.gql(DECISION, { u, c: [sku('fine'), sku('empty')] })).decisionContext;
    expect(d.user.flags).toMatchObject([{ scope: 'USER', kind: 'FRAUD', active: true }]);
    expect(d.candidates.map((c: any) => c.reasons)).toEqual([['USER_FRAUD'], ['OUT_OF_STOCK', 'USER_FRAUD']]);
  });

  it('NO_DELIVERY for an unknown region or one without a slot; no region asked, no check', async () => {
    const reasons = async (r: string | null) => (await decide({ c: [sku('fine')], r })).candidates[0].reasons;
    expect(await reasons(`${p}-closed`)).toEqual(['NO_DELIVERY']);
    expect(await reasons(`${p}-nowhere`)).toEqual(['NO_DELIVERY']);
    expect(await reasons(`${p}-past`)).toEqual(['NO_DELIVERY']); // a "next" slot already gone by the snapshot's clock
    expect(await reasons(`${p}-open`)).toEqual([]);
    expect(await reasons(null)).toEqual([]);
  });

  it('UNKNOWN_ITEM and the rest combine; eligible is exactly "no reasons"', async () => {
    const d = await decide({ c: [sku('nothing')], r: `${p}-closed` });
    expect(d.candidates[0]).toMatchObject({ eligible: false, reasons: ['UNKNOWN_ITEM', 'NO_DELIVERY'] });
  });
});

describe('session intent', () => {
  const ev = (s: string, kind: string, name: string) => ({ kind, userId: `${p}-u`, sessionId: s, sku: sku(name) });
  const intent = async (s: string) => (await decide({ s, c: [] })).session.intent;

  it('an event exactly 30 minutes old by the snapshot\'s clock still counts, one a microsecond older does not', async () => {
    const s = `${p}-edge`;
    const key = { userId: `${p}-u`, sessionId: s, region: null, eventLists: false };
    // One transaction: its now() is the clock both the events and the reads are measured by.
    const seen = await gw.sql.begin(async (tx) => {
      await tx`insert into sessions (id, user_id) values (${s}, ${key.userId})`;
      await tx`insert into events (kind, user_id, session_id, sku, quantity, at)
               values ('ADD_TO_CART', ${key.userId}, ${s}, ${sku('fine')}, 1, now() - interval '30 minutes')`;
      const edge = (await readFacts(tx, key)).intent;
      await tx`update events set at = at - interval '1 microsecond' where session_id = ${s}`;
      return [edge, (await readFacts(tx, key)).intent];
    });
    expect(seen).toEqual(['BUYING', 'BROWSING']);
  });

  it('BROWSING → CONSIDERING (one SKU twice) → BUYING (add to cart)', async () => {
    const s = `${p}-s1`;
    ok(await gw.gql(RECORD, { events: [ev(s, 'VIEW', 'fine')] }));
    expect(await intent(s)).toBe('BROWSING');
    ok(await gw.gql(RECORD, { events: [ev(s, 'CLICK', 'fine')] }));
    expect(await intent(s)).toBe('CONSIDERING');
    ok(await gw.gql(RECORD, { events: [ev(s, 'ADD_TO_CART', 'fine')] }));
    expect(await intent(s)).toBe('BUYING');
  });

  it('CONSIDERING after 3 SKUs of one category, not after 2', async () => {
    const s = `${p}-s2`;
    ok(await gw.gql(RECORD, { events: [ev(s, 'VIEW', 'c1'), ev(s, 'VIEW', 'c2'), ev(s, 'VIEW', 'fine')] }));
    expect(await intent(s)).toBe('BROWSING');
    ok(await gw.gql(RECORD, { events: [ev(s, 'CLICK', 'c3')] }));
    expect(await intent(s)).toBe('CONSIDERING');
  });

  it('BUYING after a purchase; signals older than 30 minutes no longer count', async () => {
    const s = `${p}-s3`;
    ok(await gw.gql(RECORD, { events: [ev(s, 'PURCHASE', 'fine')] }));
    expect(await intent(s)).toBe('BUYING');
    await gw.sql`update events set at = now() - interval '31 minutes' where session_id = ${s}`;
    expect(await intent(s)).toBe('BROWSING');
    await gw.sql`insert into events (kind, user_id, session_id, sku, quantity, at) values
      ('VIEW', ${`${p}-u`}, ${s}, ${sku('c1')}, 1, now() - interval '29 minutes'),
      ('VIEW', ${`${p}-u`}, ${s}, ${sku('c1')}, 1, now() - interval '40 minutes')`;
    expect(await intent(s)).toBe('BROWSING');
    await gw.sql`insert into events (kind, user_id, session_id, sku, quantity, at) values
      ('CLICK', ${`${p}-u`}, ${s}, ${sku('c1')}, 1, now() - interval '1 minute')`;
    expect(await intent(s)).toBe('CONSIDERING');
  });
});

describe('velocity', () => {
  it('counts purchases as sales and clicks as clicks, at once', async () => {
    const s = `${p}-vel`;
    ok(await gw.gql(RECORD, { events: [
      { kind: 'PURCHASE', userId: `${p}-u`, sessionId: s, sku: sku('c1'), quantity: 3 },
      { kind: 'CLICK', userId: `${p}-u`, sessionId: s, sku: sku('c1') },
      { kind: 'CLICK', userId: `${p}-u`, sessionId: s, sku: sku('c1') },
      { kind: 'VIEW', userId: `${p}-u`, sessionId: s, sku: sku('c1') },
    ] }));
    const d = await decide({ c: [sku('c1')] });
    expect(d.candidates[0].velocity).toEqual({ salesLast5s: 3, salesLast5m: 3, clicksLast30s: 2 });
    expect(d.candidates[0].inventory.available).toBe(7);
  });

  it('measures each window back from the snapshot clock', async () => {
    const k = sku('c2');
    // History: 5 sales 400 s ago, 3 more 100 s ago, 2 more now; clicks 4 at 60 s ago, 1 now.
    const [{ s }] = (await gw.sql`select floor(extract(epoch from now()))::int as s`) as unknown as [{ s: number }];
    for (const [ago, sales, clicks] of [[400, 5, 0], [100, 3, 0], [60, 0, 4], [0, 2, 1]] as const) {
      await bumpCounters(gw.sql, [{ sku: k, sales, clicks }], s - ago);
    }
    const d = await decide({ c: [k] });
    expect(d.candidates[0].velocity).toEqual({ salesLast5s: 2, salesLast5m: 5, clicksLast30s: 1 });
  });
});
