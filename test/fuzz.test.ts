// Property: whatever arrives at /graphql, the answer is never a 500, errors carry
// a code, a batch is written whole or not at all, and the process stays up.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { items, uid } from './helpers.js';
import { liveGateway, post, type LiveGateway } from './live-helpers.js';

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
    expect(JSON.stringify(e)).not.toMatch(/\n\s+at |postgres|select |insert /i);
  }
}

const anyValue = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer(), fc.double(), fc.constant(null), fc.boolean(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((b) => Number(b)), fc.constant(''), fc.constant('\u0000'),
);
const eventArb = fc.record({
  kind: fc.oneof(fc.constantFrom('VIEW', 'CLICK', 'ADD_TO_CART', 'PURCHASE'), anyValue),
  userId: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), anyValue),
  sku: fc.oneof(fc.constantFrom(...skus), anyValue),
  quantity: fc.oneof(fc.integer({ min: -5, max: 5 }), anyValue),
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
  }), { numRuns: 150 });
});

it('decisionContext: any arguments get an answer or a coded error', async () => {
  await fc.assert(fc.asyncProperty(anyValue, fc.array(anyValue, { maxLength: 5 }), anyValue, anyValue, async (u, c, s, r) => {
    const { status, text } = await raw(JSON.stringify({
      query: 'query($u: ID!, $c: [ID!]!, $s: ID, $r: String) { decisionContext(userId: $u, candidates: $c, sessionId: $s, region: $r) { candidates { sku eligible } } }',
      variables: { u, c, s, r },
    }));
    expectCleanAnswer(status, text);
  }), { numRuns: 150 });
});

it('malformed, deep and wide documents get a coded error, not a 500', async () => {
  const deep = `{ decisionContext(userId: "u", candidates: []) { ${'user { '.repeat(200)}id${' }'.repeat(200)} } }`;
  const wide = `{ ${Array.from({ length: 2000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
  const docs = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.constantFrom(deep, wide, '{', '}}}', 'query { decisionContext }', 'mutation { x }'));
  await fc.assert(fc.asyncProperty(docs, async (query) => {
    const { status, text } = await raw(JSON.stringify({ query }));
    expectCleanAnswer(status, text);
  }), { numRuns: 100 });
  for (const body of ['', 'not json', '{"query": 5}', '[]', '{"variables": "x"}', '\u0000']) {
    const { status } = await raw(body);
    expect(status).toBeLessThan(500);
  }
  const alive = await post(gw.url, '{ __typename }');
  expect(alive.data.__typename).toBe('Query');
});
