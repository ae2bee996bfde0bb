// Property: whatever arrives at /graphql, the answer is never a 500 nor an
// INTERNAL_SERVER_ERROR, errors carry a code, a batch is written whole or not
// at all, and the process stays up. Fixed seed: a failure replays the same way.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { items, uid } from './helpers.js';
import { liveGateway, post, type LiveGateway } from './live-helpers.js';

const SEED = 20261126;
let gw: LiveGateway;
const p = uid('fuzz');
const skus = [`${p}-a`, `${p}-b`];

beforeAll(async () => {
  gw = await liveGateway();
  await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, { i: items(p, { a: { available: 1_000_000 }, b: { available: 3 } }) });
});
afterAll(() => gw.stop());

async function raw(body: string) {
  const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { status: res.status, text };
}

function expectCleanAnswer(status: number, text: string) {
  expect(status).toBeLessThan(500);
  const body = JSON.parse(text);
  for (const e of body.errors ?? []) {
    expect(typeof e.extensions?.code).toBe('string');
    // Bad input is the caller's to fix: an unexpected error here is a gap in validation.
    expect(e.extensions.code, JSON.stringify(e)).not.toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(e)).not.toMatch(/\n\s+at |postgres|select |insert /i);
  }
}

// Text Postgres cannot store (NUL) or postgres.js would change (a lone surrogate becomes U+FFFD).
const poison = fc.constantFrom('\u0000', '\ud800', '\udfff', '\udc00\ud800');
/** Any UTF-16 code units, NUL and lone surrogates included. */
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 });
/** A plausible value with poison spliced in. */
const poisoned = (base: fc.Arbitrary<string>) => fc.tuple(base, poison, fc.string({ maxLength: 3 })).map(([a, b, c]) => a + b + c);
const nanLike = fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e309', '-0', '0x10', '9007199254740993', '1e-50', '', ' ');
const hugeNumber = fc.constantFrom(2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 1_000_000_001, 1e21, Number.MAX_SAFE_INTEGER, 1e308, 1e-50, 5e-324, -0);
/** Lists nested up to 500 deep around a value, where a scalar or a flat list is expected (deeper: a raw body below). */
const nested = <T>(inner: fc.Arbitrary<T>) => fc.tuple(fc.integer({ min: 1, max: 500 }), inner).map(([depth, v]) => {
  let x: unknown = v;
  for (let i = 0; i < depth; i++) x = [x];
  return x;
});

const scalarValue = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }), codeUnits, poisoned(fc.string({ maxLength: 10 })), nanLike,
  fc.integer(), fc.double(), hugeNumber, fc.constant(null), fc.boolean(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((b) => Number(b)), fc.constant(''), fc.constant('\u0000'),
);
const anyValue = fc.oneof({ weight: 6, arbitrary: scalarValue }, { weight: 1, arbitrary: nested(scalarValue) });
/** An id of ours (so a partial write would show), sometimes poisoned. */
const ourId = (ids: string[]) => fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...ids) }, poisoned(fc.constantFrom(...ids)), anyValue);
const count = fc.oneof(fc.integer({ min: -5, max: 1_000 }), hugeNumber, anyValue);
/** Mostly small stock levels, so reserved above available comes up. */
const units = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }) }, count);

// Mostly valid events, so a batch gets past the first bad field often enough to reach the others.
const eventArb = fc.record({
  kind: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('VIEW', 'CLICK', 'ADD_TO_CART', 'PURCHASE') }, anyValue),
  userId: fc.oneof({ weight: 2, arbitrary: fc.constantFrom(`${p}-u1`, `${p}-u2`) }, fc.string({ unit: 'grapheme', maxLength: 30 }),
    poisoned(fc.constant(`${p}-u`)), anyValue),
  sku: ourId(skus),
  quantity: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }) }, fc.integer({ min: -5, max: 5 }), count),
  // Cited decisions: well-formed ids the log does not hold (NOT_FOUND), poisoned and arbitrary ones.
  decisionId: fc.oneof(fc.uuid(), poisoned(fc.uuid()), anyValue),
  position: count,
}, { requiredKeys: [] });

it('recordEvents: any batch is written whole or refused with a code', async () => {
  await fc.assert(fc.asyncProperty(fc.array(eventArb, { maxLength: 6 }), async (events) => {
    // Every event of the call carries one fresh session id, so its rows can be counted whatever else is fuzzed.
    const tag = uid('s');
    const batch = events.map((e) => ({ ...e, sessionId: tag }));
    const { status, text } = await raw(JSON.stringify({
      query: 'mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }', variables: { e: batch },
    }));
    expectCleanAnswer(status, text);
    const body = JSON.parse(text);
    const [{ n }] = (await gw.sql`select count(*)::int as n from events where session_id = ${tag}`) as unknown as [{ n: number }];
    expect(n).toBe(body.data?.recordEvents ? body.data.recordEvents.accepted : 0);
  }), { seed: SEED, numRuns: 120 });
});

it('decisionContext: any arguments get an answer or a coded error', async () => {
  await fc.assert(fc.asyncProperty(anyValue, fc.oneof(fc.array(anyValue, { maxLength: 5 }), nested(anyValue)), anyValue, anyValue,
    async (u, c, s, r) => {
      const { status, text } = await raw(JSON.stringify({
        query: 'query($u: ID!, $c: [ID!]!, $s: ID, $r: String) { decisionContext(userId: $u, candidates: $c, sessionId: $s, region: $r) { candidates { sku eligible } } }',
        variables: { u, c, s, r },
      }));
      expectCleanAnswer(status, text);
    }), { seed: SEED, numRuns: 150 });
});

// The item-state writes, with this file's SKUs (some poisoned) and fuzzed numbers, dates and text.
const writeSkus = [`${p}-w1`, `${p}-w2`, `${p}-w3`];
const dateArb = fc.oneof(
  fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59', '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '0001-01-01T00:00:00Z'),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), anyValue,
);
const itemArb = fc.record({
  sku: ourId(writeSkus), title: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), poisoned(fc.constant('T')), anyValue),
  category: fc.oneof(fc.constant(`${p}-cat`), poisoned(fc.constant(`${p}-cat`)), anyValue),
  priceMinor: count, currency: fc.oneof(fc.constant('EUR'), poisoned(fc.constant('EU')), anyValue), available: units,
}, { requiredKeys: ['sku', 'title', 'category', 'priceMinor', 'currency', 'available'] });
const writeArb = fc.oneof(
  fc.record({ query: fc.constant('mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }'),
    variables: fc.record({ i: fc.oneof(fc.array(itemArb, { maxLength: 4 }), nested(itemArb)) }) }),
  fc.record({ query: fc.constant('mutation($s: ID!, $a: Int!, $r: Int) { setInventory(sku: $s, available: $a, reserved: $r) { sku } }'),
    variables: fc.record({ s: ourId(writeSkus), a: units, r: fc.oneof(units, fc.constant(null)) }) }),
  fc.record({ query: fc.constant('mutation($s: ID!, $a: Int!, $c: String!) { setPrice(sku: $s, amountMinor: $a, currency: $c) { sku } }'),
    variables: fc.record({ s: ourId(writeSkus), a: count, c: fc.oneof(fc.constant('EUR'), anyValue) }) }),
  fc.record({ query: fc.constant('mutation($r: String!, $c: Float!, $l: Int, $d: DateTime) { setFulfillment(region: $r, congestion: $c, latencyMinutes: $l, nextSlotAt: $d) { region } }'),
    variables: fc.record({ r: ourId([`${p}-r`]), c: fc.oneof(fc.double({ min: 0, max: 1 }), anyValue), l: count, d: dateArb }) }),
  fc.record({ query: fc.constant('mutation($t: ID!, $r: String) { setPolicyFlag(scope: SKU, target: $t, kind: QUALITY_HOLD, active: true, reason: $r) { active } }'),
    variables: fc.record({ t: ourId(writeSkus), r: fc.oneof(fc.string({ maxLength: 10 }), poisoned(fc.constant('why')), anyValue) }) }),
  fc.record({ query: fc.constant('query($s: String, $c: String, $l: Int!) { catalog(search: $s, category: $c, limit: $l) { sku } }'),
    variables: fc.record({ s: anyValue, c: anyValue, l: count }) }),
  fc.record({ query: fc.constant('query($a: String, $f: Int!) { decisionLog(after: $a, first: $f) { edges { cursor } pageInfo { hasNextPage } } }'),
    variables: fc.record({ a: fc.oneof(fc.uuid(), poisoned(fc.uuid()), anyValue), f: count }) }),
  fc.record({ query: fc.constant('query($d: ID!) { decisionOutcomes(decisionId: $d) { kind } }'),
    variables: fc.record({ d: fc.oneof(fc.uuid(), poisoned(fc.uuid()), anyValue) }) }),
);

async function footprint() {
  const like = `${p}%`;
  const [row] = await gw.sql`select
    (select json_agg(t order by sku)::text from (select sku, title, category from items where sku like ${like}) t) as items,
    (select json_agg(t order by sku)::text from (select sku, available, reserved from inventory where sku like ${like}) t) as stock,
    (select json_agg(t order by sku)::text from (select sku, amount_minor, currency from prices where sku like ${like}) t) as prices,
    (select json_agg(t order by target)::text from (select target, active, reason from policy_flags where target like ${like}) t) as flags,
    (select json_agg(t order by region)::text from (select region, congestion, latency_minutes, next_slot_at from fulfillment where region like ${like}) t) as regions,
    (select count(*)::int from change_log where key like ${like}) as changes`;
  return row;
}

it('item-state writes and the catalog: written whole or refused with a code; reserved never above available', async () => {
  await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, { i: items(p, { w1: {}, w2: {}, w3: {} }) });
  await fc.assert(fc.asyncProperty(writeArb, async ({ query, variables }) => {
    const before = await footprint();
    const { status, text } = await raw(JSON.stringify({ query, variables }));
    expectCleanAnswer(status, text);
    const body = JSON.parse(text);
    if (body.errors?.length) expect(await footprint()).toEqual(before);
    const [{ n }] = (await gw.sql`select count(*)::int as n from inventory where sku like ${`${p}%`} and reserved > available`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  }), { seed: SEED, numRuns: 150 });
});

it('malformed, deep and wide documents get a coded error, not a 500', async () => {
  const deep = `{ decisionContext(userId: "u", candidates: []) { ${'user { '.repeat(200)}id${' }'.repeat(200)} } }`;
  const wide = `{ ${Array.from({ length: 2000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
  const literals = `mutation { setInventory(sku: "${skus[0]}", available: 2147483648) { sku } setPrice(sku: "x", amountMinor: 1e400, currency: NaN) { sku } }`;
  const docs = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), codeUnits,
    fc.constantFrom(deep, wide, literals, '{', '}}}', 'query { decisionContext }', 'mutation { x }', '{ catalog(search: "\u0000") { sku } }'));
  await fc.assert(fc.asyncProperty(docs, async (query) => {
    const { status, text } = await raw(JSON.stringify({ query }));
    expectCleanAnswer(status, text);
  }), { seed: SEED, numRuns: 100 });
  for (const body of ['', 'not json', '{"query": 5}', '[]', '{"variables": "x"}', '\u0000', '{"query":"{ __typename }","variables":{"x":NaN}}',
    `{"query":"query($c: [ID!]!) { decisionContext(userId: \\"u\\", candidates: $c) { candidates { sku } } }","variables":{"c":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`]) {
    const { status } = await raw(body);
    expect(status).toBeLessThan(500);
  }
  const alive = await post(gw.url, '{ __typename }');
  expect(alive.data.__typename).toBe('Query');
});
