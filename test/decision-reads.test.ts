// The decision's reads in their lean encodings: readState's positional arrays
// decode to exactly what a plain column read of the same snapshot says (null
// price, no stock row, unknown SKU, flags on the SKU and on its category,
// velocity of an unknown and of a cold SKU), timestamps reach the answer as
// to_char renders them (byte for byte), and the facts statement's event lists,
// read only when the query selects one or the decision is logged, are the same
// lists whichever way they are read.
import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../src/db/client.js';
import { toIsoUtc } from '../src/db/timestamps.js';
import { readEventLists, readFacts, readState } from '../src/reads/decision-sql.js';
import { createLoaders, eventList } from '../src/reads/loaders.js';
import { wantsEventLists } from '../src/schema/decision.js';
import { loggedGateway, rowOf, type Logged } from './decision-log-helpers.js';
import { CANDIDATE_FIELDS, items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('reads');
const sku = (n: string) => `${p}-${n}`;
const cat = (n: string) => `${p}-cat-${n}`;
const user = `${p}-user`;
const session = `${p}-sess`;
// hot: sold and clicked, flagged on itself and its category; cold: never sold (zeros); gated: its category flagged;
// noprice / nostock: an item without a price row / stock row; unknown: no rows at all (velocity null).
const CANDIDATES = ['hot', 'cold', 'gated', 'noprice', 'nostock', 'unknown', 'hot'].map(sku);
// Edge instants, each as Postgres stores it and as the API must render it (milliseconds truncated, UTC).
const INSTANTS: [string, string][] = [
  ['2026-11-25 16:46:47+00', '2026-11-25T16:46:47.000Z'], // whole second: the json form has no fraction
  ['2026-11-25 16:46:47.999999+00', '2026-11-25T16:46:47.999Z'], // truncated, never rounded up
  ['1969-12-31 23:59:59.000001+00', '1969-12-31T23:59:59.000Z'],
  ['0001-01-01 00:00:00+00', '0001-01-01T00:00:00.000Z'],
  ['9999-12-31 23:59:59.999999+00', '9999-12-31T23:59:59.999Z'],
  ['2026-03-29 01:30:00.5+02', '2026-03-28T23:30:00.500Z'], // an offset: stored as UTC
];
let logged: Logged;

beforeAll(async () => {
  ok(await gw.gql(UPSERT, { items: [
    ...items(p, { hot: { category: cat('a'), price: 1234 }, cold: { category: cat('a') }, gated: { category: cat('b') } }),
  ] }));
  await gw.sql`insert into items (sku, title, category) values (${sku('noprice')}, 'No price', ${cat('a')}), (${sku('nostock')}, 'No stock', ${cat('b')})`;
  await gw.sql`insert into inventory (sku, available, reserved) values (${sku('noprice')}, 4, 1)`;
  await gw.sql`insert into prices (sku, amount_minor, currency, list_amount_minor) values (${sku('nostock')}, 99, 'EUR', 120)`;
  for (const m of [
    `setPolicyFlag(scope: SKU, target: "${sku('hot')}", kind: QUALITY_HOLD, active: true, reason: "own") { active }`,
    `setPolicyFlag(scope: CATEGORY, target: "${cat('a')}", kind: RISK_GATE, active: true, reason: null) { active }`,
    `setPolicyFlag(scope: CATEGORY, target: "${cat('b')}", kind: QUALITY_HOLD, active: true, reason: "cat b") { active }`,
    `setPolicyFlag(scope: SKU, target: "${sku('cold')}", kind: RISK_GATE, active: false, reason: "lifted") { active }`,
  ]) ok(await gw.gql(`mutation { ${m} }`));
  ok(await gw.gql(RECORD, { events: [
    { kind: 'VIEW', userId: user, sessionId: session, sku: sku('hot') },
    { kind: 'CLICK', userId: user, sessionId: session, sku: sku('hot'), quantity: 3 },
    { kind: 'PURCHASE', userId: user, sessionId: session, sku: sku('hot'), quantity: 2 },
    { kind: 'VIEW', userId: user, sessionId: session, sku: null },
  ] }));
  // The edge instants on the rows the answer shows (after the writes, which stamp now()).
  const at = (i: number) => INSTANTS[i % INSTANTS.length]![0];
  await gw.sql`update inventory set updated_at = ${at(0)}::timestamptz where sku = ${sku('hot')}`;
  await gw.sql`update prices set updated_at = ${at(1)}::timestamptz where sku = ${sku('hot')}`;
  await gw.sql`update inventory set updated_at = ${at(2)}::timestamptz where sku = ${sku('cold')}`;
  await gw.sql`update prices set updated_at = ${at(3)}::timestamptz where sku = ${sku('cold')}`;
  await gw.sql`update inventory set updated_at = ${at(4)}::timestamptz where sku = ${sku('noprice')}`;
  await gw.sql`update prices set updated_at = ${at(5)}::timestamptz where sku = ${sku('nostock')}`;
  await gw.sql`update policy_flags set changed_at = ${at(1)}::timestamptz where target = ${sku('hot')}`;
  await gw.sql`update policy_flags set changed_at = ${at(0)}::timestamptz where target = ${cat('a')}`;
  logged = loggedGateway();
});
afterAll(async () => { await logged.close(); await gw.close(); });

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** Candidate state as plain columns (no JSON), timestamps rendered by to_char: what readState must decode to. */
async function plainState(tx: Queryable, skus: string[]) {
  return tx<any[]>`
    select c.sku, i.title, i.category, inv.available, inv.reserved,
           to_char(inv.updated_at at time zone 'UTC', ${tx.unsafe(ISO)}) as inv_at,
           p.amount_minor, p.currency, p.list_amount_minor,
           to_char(p.updated_at at time zone 'UTC', ${tx.unsafe(ISO)}) as price_at,
           k.sku is not null as counted,
           velocity_window(k.sales_5s, k.ring_ds, k.sales_rel, floor(extract(epoch from now()) * 10)::bigint - 50) as s5,
           velocity_window(k.sales_5m, k.ring_ds / 10, k.sales_rel, floor(extract(epoch from now()) * 10)::bigint / 10 - 300) as m5,
           velocity_window(k.clicks_30s, k.ring_ds, k.clicks_rel, floor(extract(epoch from now()) * 10)::bigint - 300) as c30,
           (select coalesce(array_agg(f.scope || '/' || f.target || '/' || f.kind || '/' || coalesce(f.reason, '-') || '/'
                     || to_char(f.changed_at at time zone 'UTC', ${tx.unsafe(ISO)}) order by f.scope desc, f.kind), '{}')
              from policy_flags f where f.active and ((f.scope = 'SKU' and f.target = c.sku) or (f.scope = 'CATEGORY' and f.target = i.category))) as flags
    from unnest(${skus}::text[]) with ordinality as c(sku, ord)
    left join items i on i.sku = c.sku left join inventory inv on inv.sku = c.sku
    left join prices p on p.sku = c.sku left join sku_counters k on k.sku = c.sku
    order by c.ord`;
}

const iso = (v: string | null) => (v === null ? null : toIsoUtc(v));

describe('readState decodes to what a plain read of the same snapshot says', () => {
  it('for every edge case, in one snapshot', async () => {
    const [state, plain] = await gw.sql.begin('isolation level repeatable read read only', (tx) =>
      Promise.all([readState(tx, CANDIDATES), plainState(tx, CANDIDATES)]));
    const bySku = new Map(state.map((s) => [s.sku, s]));
    expect(new Set(bySku.keys())).toEqual(new Set(CANDIDATES));
    for (const r of plain) {
      const s = bySku.get(r.sku)!;
      expect({
        title: s.title, category: s.category, available: s.available, reserved: s.reserved, inventoryUpdatedAt: iso(s.inventoryUpdatedAt),
        amountMinor: s.amountMinor, currency: s.currency, listAmountMinor: s.listAmountMinor, priceUpdatedAt: iso(s.priceUpdatedAt),
        velocity: s.velocity,
        flags: (s.flags ?? []).map((f) => `${f.scope}/${f.target}/${f.kind}/${f.reason ?? '-'}/${toIsoUtc(f.changedAt)}`),
      }, r.sku).toEqual({
        title: r.title, category: r.category, available: r.available, reserved: r.reserved, inventoryUpdatedAt: r.inv_at,
        amountMinor: r.amount_minor, currency: r.currency, listAmountMinor: r.list_amount_minor, priceUpdatedAt: r.price_at,
        velocity: r.counted ? { salesLast5s: r.s5, salesLast5m: r.m5, clicksLast30s: r.c30 } : null,
        flags: r.flags, // the SKU's own first, then its category's
      });
    }
    // Not vacuous: the cases are there.
    const hot = bySku.get(sku('hot'))!;
    expect(hot.flags!.map((f) => f.scope)).toEqual(['SKU', 'CATEGORY']);
    expect(hot.velocity).toMatchObject({ salesLast5m: 2, clicksLast30s: 3 });
    expect(bySku.get(sku('cold'))!.velocity).toEqual({ salesLast5s: 0, salesLast5m: 0, clicksLast30s: 0 });
    expect(bySku.get(sku('cold'))!.flags!.map((f) => [f.scope, f.kind])).toEqual([['CATEGORY', 'RISK_GATE']]); // its own flag is inactive
    expect(bySku.get(sku('gated'))!.flags!.map((f) => [f.scope, f.kind])).toEqual([['CATEGORY', 'QUALITY_HOLD']]);
    expect(bySku.get(sku('unknown'))).toMatchObject({ title: null, velocity: null, flags: null, amountMinor: null, available: null });
    expect(bySku.get(sku('noprice'))).toMatchObject({ amountMinor: null, currency: null, priceUpdatedAt: null, available: 4 });
    expect(bySku.get(sku('nostock'))).toMatchObject({ available: null, inventoryUpdatedAt: null, amountMinor: 99 });
    expect(plain.flatMap((r) => [r.inv_at, r.price_at])).toEqual(expect.arrayContaining([...INSTANTS.map(([, out]) => out), null]));
  });
});

describe('the answer', () => {
  it('renders every timestamp as to_char does, byte for byte, and every null where a row is missing', async () => {
    const res = await gw.gql(`query($u: ID!, $s: ID, $c: [ID!]!) {
      decisionContext(userId: $u, sessionId: $s, candidates: $c) { ${CANDIDATE_FIELDS} } }`, { u: user, s: session, c: CANDIDATES });
    const answer = ok(res).decisionContext.candidates as any[];
    const plain = await plainState(gw.sql, CANDIDATES);
    expect(answer.map((c) => c.sku)).toEqual(CANDIDATES);
    answer.forEach((c, i) => {
      const r = plain[i]!;
      const known = r.title !== null;
      expect(c.inventory, c.sku).toEqual(known && r.available !== null ? { available: r.available, reserved: r.reserved, updatedAt: r.inv_at } : null);
      expect(c.price, c.sku).toEqual(known && r.amount_minor !== null
        ? { amountMinor: r.amount_minor, currency: r.currency, listAmountMinor: r.list_amount_minor, updatedAt: r.price_at } : null);
      expect(c.item, c.sku).toEqual(known ? { sku: c.sku, title: r.title, category: r.category } : null);
      expect(c.policy.map((f: any) => `${f.scope}/${f.target}/${f.kind}/${f.reason ?? '-'}/${f.changedAt}`), c.sku).toEqual(r.flags);
      expect(c.velocity, c.sku).toEqual(r.counted ? { salesLast5s: r.s5, salesLast5m: r.m5, clicksLast30s: r.c30 }
        : { salesLast5s: 0, salesLast5m: 0, clicksLast30s: 0 });
    });
    // Byte for byte: the response text carries each instant exactly as expected.
    const text = JSON.stringify(res.data);
    for (const [, out] of INSTANTS) expect(text).toContain(`"updatedAt":"${out}"`);
    expect(answer.map((c) => c.reasons)).toEqual([
      ['QUALITY_HOLD', 'RISK_GATE'], ['RISK_GATE'], ['QUALITY_HOLD'], ['RISK_GATE'], ['OUT_OF_STOCK', 'QUALITY_HOLD'], ['UNKNOWN_ITEM'],
      ['QUALITY_HOLD', 'RISK_GATE'],
    ]);
  });
});

/** The session's and user's lists as plain columns, newest first (the facts statement's order and limits). */
async function plainLists(limitSession = 20, limitPurchases = 10) {
  const ev = (rows: any[]) => rows.map((r) => ({ kind: r.kind, sku: r.sku, quantity: r.quantity, at: r.at }));
  const s = await gw.sql`select kind, sku, quantity, to_char(at at time zone 'UTC', ${gw.sql.unsafe(ISO)}) as at from events
    where session_id = ${session} and user_id = ${user} order by events.at desc, id desc limit ${limitSession}`;
  const u = await gw.sql`select kind, sku, quantity, to_char(at at time zone 'UTC', ${gw.sql.unsafe(ISO)}) as at from events
    where user_id = ${user} and kind = 'PURCHASE' order by events.at desc, id desc limit ${limitPurchases}`;
  return { session: ev(s), purchases: ev(u) };
}

describe('event lists', () => {
  it('readFacts without eventLists leaves them null and reads everything else the same', async () => {
    const key = { userId: user, sessionId: session, region: null };
    const [without, withLists, lists] = await gw.sql.begin('isolation level repeatable read read only', (tx) => Promise.all([
      readFacts(tx, { ...key, eventLists: false }), readFacts(tx, { ...key, eventLists: true }),
      readEventLists(tx, [{ of: 'session', id: session, limit: 20, userId: user }, { of: 'purchases', id: user, limit: 10, userId: user }]),
    ]));
    expect(without.sessionEvents).toBeNull();
    expect(without.purchases).toBeNull();
    expect({ ...without, sessionEvents: withLists.sessionEvents, purchases: withLists.purchases }).toEqual(withLists);
    expect(withLists.intent).toBe('BUYING');
    // The fallback read (readEventLists) and the prefetch agree, and both agree with plain columns.
    expect([withLists.sessionEvents, withLists.purchases]).toEqual(lists);
    const plain = await plainLists();
    expect(withLists.sessionEvents!.map((e) => ({ ...e, at: toIsoUtc(e.at) }))).toEqual(plain.session);
    expect(plain.session).toHaveLength(4);
    expect(plain.purchases).toHaveLength(1);
  });

  it('another user\'s session reads as empty by either read', async () => {
    // An event of another user in this session: the writes refuse it (sessions.test.ts), so it can only be inserted here.
    await gw.sql`insert into events (kind, user_id, session_id, sku, quantity) values ('VIEW', ${`${p}-other`}, ${session}, ${sku('hot')}, 1)`;
    const [f, lists] = await gw.sql.begin('isolation level repeatable read read only', (tx) => Promise.all([
      readFacts(tx, { userId: `${p}-other`, sessionId: session, region: null, eventLists: true }),
      readEventLists(tx, [{ of: 'session', id: session, limit: 20, userId: `${p}-other` }]),
    ]));
    expect(f.sessionEvents).toEqual([]);
    expect(lists).toEqual([[]]);
  });

  it('a list the facts statement did not prefetch (null) is read by one more statement, the same', async () => {
    const loaders = createLoaders(gw.sql);
    const key = { of: 'session' as const, id: session, userId: user };
    const plain = await plainLists();
    const got = await Promise.all([0, 2, 20].map((limit) => eventList(loaders, null, 20, { ...key, limit })));
    expect(got.map((list) => list.map((e) => ({ ...e, at: toIsoUtc(e.at) }))))
      .toEqual([0, 2, 20].map((limit) => plain.session.slice(0, limit)));
    expect(plain.session).toHaveLength(4);
    expect(loaders.statements).toBe(1); // one batch
  });

  const SESSION_EVENTS = 'kind sku quantity at';
  it.each([
    ['directly', `session { recentEvents { ${SESSION_EVENTS} } } user { recentPurchases { ${SESSION_EVENTS} } }`, ''],
    ['aliased, in a named fragment', `...F`, `fragment F on DecisionContext { s: session { e: recentEvents { ${SESSION_EVENTS} } } user { ...P } }
      fragment P on UserContext { recentPurchases { ${SESSION_EVENTS} } }`],
    ['in inline fragments', `... on DecisionContext { session { ... on SessionContext { recentEvents { ${SESSION_EVENTS} } } } user { ... { recentPurchases { ${SESSION_EVENTS} } } } }`, ''],
  ])('selected %s: prefetched by the facts statement (one statement), equal to a plain read', async (_, selection, fragments) => {
    gw.statements.length = 0;
    const d = ok(await gw.gql(`query($u: ID!, $s: ID) { decisionContext(userId: $u, sessionId: $s, candidates: []) { ${selection} } } ${fragments}`,
      { u: user, s: session })).decisionContext;
    const statements = gw.statements.filter((s) => !/^\s*select b\.oid, b\.typarray/.test(s));
    expect(statements.map((s) => s.trim().split(/\s+/).slice(0, 2).join(' ').toLowerCase()))
      .toEqual(['with own']); // the facts statement alone: no second statement, so no run again in a transaction
    const plain = await plainLists();
    expect(d.session?.recentEvents ?? d.s.e).toEqual(plain.session);
    expect(d.user.recentPurchases).toEqual(plain.purchases);
  });

  it('a list past the prefetch, and a limit of 0, read the same as plain columns', async () => {
    const d = ok(await gw.gql(`query($u: ID!, $s: ID) { decisionContext(userId: $u, sessionId: $s, candidates: []) {
      session { a: recentEvents(limit: 2) { ${SESSION_EVENTS} } b: recentEvents(limit: 0) { kind } c: recentEvents(limit: 50) { ${SESSION_EVENTS} } } } }`,
    { u: user, s: session })).decisionContext;
    const plain = await plainLists(50);
    expect(d.session.a).toEqual(plain.session.slice(0, 2));
    expect(d.session.b).toEqual([]);
    expect(d.session.c).toEqual(plain.session);
  });

  it('a logged decision logs the lists even when its query selects none (also beside an unlogged one of the same key)', async () => {
    const { d } = ok(await logged.gw.gql(`query($u: ID!, $s: ID) {
      a: decisionContext(userId: $u, sessionId: $s, candidates: []) { session { intent } }
      d: decisionContext(userId: $u, sessionId: $s, candidates: [], log: true) { decisionId logged session { intent } } }`,
    { u: user, s: session }));
    expect(d.logged).toBe(true);
    const row = await rowOf(logged, d.decisionId);
    expect(row, 'the decision was logged').toBeDefined();
    const plain = await plainLists();
    expect(row.context.sessionEvents).toEqual(plain.session);
    expect(row.context.purchases).toEqual(plain.purchases);
  });
});

describe('wantsEventLists', () => {
  const wants = (doc: string) => {
    const ast = parse(doc);
    const op = ast.definitions.find((x): x is OperationDefinitionNode => x.kind === Kind.OPERATION_DEFINITION)!;
    const fragments = Object.fromEntries(ast.definitions.filter((x): x is FragmentDefinitionNode => x.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]));
    const field = op.selectionSet.selections[0]!;
    if (field.kind !== Kind.FIELD) throw new Error('a field first');
    return wantsEventLists({ fieldNodes: [field], fragments });
  };
  it('is false for a query that selects no list, true for one that does in any form', () => {
    expect(wants('{ decisionContext(userId: "u", candidates: []) { snapshot { id } session { intent lastEventAt } user { segment } } }')).toBe(false);
    expect(wants('{ decisionContext(userId: "u", candidates: []) { ...F } } fragment F on DecisionContext { session { intent } }')).toBe(false);
    expect(wants('{ decisionContext(userId: "u", candidates: []) { session { recentEvents { kind } } } }')).toBe(true);
    expect(wants('{ decisionContext(userId: "u", candidates: []) { user { r: recentPurchases(limit: 3) { kind } } } }')).toBe(true);
    expect(wants('{ decisionContext(userId: "u", candidates: []) { ...F } } fragment F on DecisionContext { ...G } fragment G on DecisionContext { user { ... on UserContext { recentPurchases { kind } } } }')).toBe(true);
  });
});
