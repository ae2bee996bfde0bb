// Query limits and load shedding: the real workload passes, abuse is refused with a clear error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECISION, items, uid } from './helpers.js';
import { liveGateway, post, sleep, type LiveGateway } from './live-helpers.js';

let gw: LiveGateway;
const p = uid('limits');
beforeAll(async () => {
  gw = await liveGateway();
  await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, { i: items(p, { a: {} }) });
});
afterAll(() => gw.stop());

describe('query limits', () => {
  it('let the full decisionContext through with 1,000 inline candidates', async () => {
    const inline = Array.from({ length: 1000 }, (_, i) => `"${p}-${i % 3 ? 'a' : i}"`).join(', ');
    const query = DECISION.replace('query($u: ID!, $s: ID, $c: [ID!]!, $r: String)', 'query($u: ID!, $s: ID, $r: String)')
      .replace('candidates: $c', `candidates: [${inline}]`);
    const res = await post(gw.url, query, { u: 'u', r: 'nowhere' });
    expect(res.errors).toBeUndefined();
    expect(res.data.decisionContext.candidates).toHaveLength(1000);
  });

  it('refuse too many aliases, too many tokens and runaway cost', async () => {
    const aliases = `{ ${Array.from({ length: 16 }, (_, i) => `d${i}: decisionContext(userId: "u", candidates: []) { snapshot { id } }`).join(' ')} }`;
    const tokens = `{ decisionContext(userId: "u", candidates: [${Array.from({ length: 5000 }, (_, i) => `"s${i}"`).join(',')}]) { snapshot { id } } }`;
    const costly = `{ ${Array.from({ length: 14 }, (_, i) => `d${i}: decisionContext(userId: "u", candidates: []) { ${DECISION.slice(DECISION.indexOf('snapshot'), DECISION.lastIndexOf('}', DECISION.lastIndexOf('}') - 1))} }`).join(' ')} }`;
    for (const [query, pattern] of [[aliases, /alias/i], [tokens, /token/i], [costly, /cost/i]] as const) {
      const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      expect(res.status).toBeLessThan(500);
      const body = await res.json() as any;
      expect(body.data ?? null).toBeNull();
      expect(body.errors[0].message).toMatch(pattern);
      expect(body.errors[0].extensions.code).toMatch(/^GRAPHQL_(VALIDATION|PARSE)_FAILED$/);
    }
  });
});

describe('load shedding', () => {
  it('answers 503 with Retry-After past MAX_IN_FLIGHT instead of queueing', async () => {
    const tight = await liveGateway({ maxInFlight: 1 });
    const k = `${p}-a`;
    // Hold the SKU's lock so the first write stays in flight.
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const locker = tight.sql.begin(async (tx) => {
      await tx`select 1 from sku_counters where sku = ${k} for update`;
      await held;
    });
    await sleep(100);
    const slow = post(tight.url, `mutation { setInventory(sku: "${k}", available: 5) { available } }`);
    await sleep(200);
    const shed = await fetch(tight.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(((await shed.json()) as any).errors[0].extensions.code).toBe('OVERLOADED');
    release();
    await locker;
    expect((await slow).data.setInventory.available).toBe(5);
    const after = await post(tight.url, '{ __typename }');
    expect(after.data.__typename).toBe('Query');
    await tight.stop();
  });
});
