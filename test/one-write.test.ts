// "Refused means nothing was written" for documents with several writes: a
// mutation operation holds one write, so no refusal can follow a commit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items, ok, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('onewrite');
beforeAll(async () => { ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 5 }, b: { available: 6 } }) })); });
afterAll(() => gw.close());

const stock = async () => (await gw.sql<{ sku: string; available: number }[]>`
  select sku, available from inventory where sku like ${`${p}-%`} order by sku`).map((r) => r.available);

describe('one write per mutation operation', () => {
  it('refuses a document whose later field would fail, writing nothing (it used to commit the others and answer data: null)', async () => {
    const res = await gw.gql(`mutation { a: setInventory(sku: "${p}-a", available: 50) { available }
      b: setInventory(sku: "${p}-nope", available: 1) { available } c: setInventory(sku: "${p}-b", available: 60) { available } }`);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/one write; this one holds 3 \(a, b, c\)/);
    expect(await stock()).toEqual([5, 6]);
  });

  it('counts writes inside fragments and under @skip alike; __typename is not a write', async () => {
    const viaFragment = await gw.gql(`mutation { a: setInventory(sku: "${p}-a", available: 51) { available } ...W }
      fragment W on Mutation { b: setInventory(sku: "${p}-b", available: 61) { available } }`);
    expect(viaFragment.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const skipped = await gw.gql(`mutation { a: setInventory(sku: "${p}-a", available: 52) { available } b: setInventory(sku: "${p}-b", available: 62) @skip(if: true) { available } }`);
    expect(skipped.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await stock()).toEqual([5, 6]);
    const one = ok(await gw.gql(`mutation { __typename a: setInventory(sku: "${p}-a", available: 7) { available } }`));
    expect(one).toEqual({ __typename: 'Mutation', a: { available: 7 } });
  });
});
