// Bad input: a clear GraphQL error with extensions.code, never a 500, never a partial write.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../src/app.js';
import { createLogger } from '../src/logger.js';
import { items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('bad');
const sku = `${p}-a`;

beforeAll(async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 5 } }) }));
});
afterAll(() => gw.close());

async function expectRefused(query: string, variables: Record<string, unknown>, code: string, field?: RegExp) {
  const res = await gw.gql(query, variables);
  expect(res.status).toBeLessThan(500);
  expect(res.data?.[Object.keys(res.data ?? {})[0] ?? ''] ?? null).toBeNull();
  expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res.errors)).toBe(code);
  if (field) expect(res.errors![0]!.message).toMatch(field);
  return res;
}

async function stockAndEvents() {
  const [row] = await gw.sql`select (select available from inventory where sku = ${sku}) as available,
    (select count(*)::int from events where sku = ${sku}) as events, (select count(*)::int from items where sku like ${`${p}%`}) as items`;
  return row;
}

const DC = `query($u: ID!, $c: [ID!]!, $r: String) { decisionContext(userId: $u, candidates: $c, region: $r) { candidates { sku } } }`;

describe('bad input is refused whole with a code', () => {
  it('decisionContext: too many candidates, empty ids', async () => {
    await expectRefused(DC, { u: 'x', c: Array.from({ length: 1001 }, (_, i) => `s${i}`) }, 'BAD_USER_INPUT', /at most 1000/);
    await expectRefused(DC, { u: '', c: [] }, 'BAD_USER_INPUT', /userId/);
    await expectRefused(DC, { u: 'x', c: ['ok', '  '] }, 'BAD_USER_INPUT', /candidates\.1/);
    await expectRefused(DC, { u: 'x', c: [], r: '' }, 'BAD_USER_INPUT', /region/);
  });

  it('recordEvents: quantity < 1, too many events, missing SKU, huge numbers — nothing written', async () => {
    const before = await stockAndEvents();
    const buy = { kind: 'PURCHASE', userId: 'u', sku, quantity: 1 };
    await expectRefused(RECORD, { events: [buy, { ...buy, quantity: 0 }] }, 'BAD_USER_INPUT', /events\.1\.quantity/);
    await expectRefused(RECORD, { events: Array.from({ length: 10_001 }, () => buy) }, 'BAD_USER_INPUT', /at most 10000/);
    await expectRefused(RECORD, { events: [buy, { kind: 'CLICK', userId: 'u' }] }, 'BAD_USER_INPUT', /events\.1\.sku/);
    await expectRefused(RECORD, { events: [buy, { ...buy, quantity: 1e12 }] }, 'BAD_USER_INPUT');
    await expectRefused(RECORD, { events: [buy, { ...buy, userId: '' }] }, 'BAD_USER_INPUT');
    expect(await stockAndEvents()).toEqual(before);
  });

  it('upsertItems: negative stock or price, bad currency, duplicate SKU, empty SKU — nothing written', async () => {
    const before = await stockAndEvents();
    const good = items(p, { new1: {} })[0]!;
    const q = UPSERT;
    await expectRefused(q, { items: [good, { ...good, sku: `${p}-n2`, available: -1 }] }, 'BAD_USER_INPUT', /available/);
    await expectRefused(q, { items: [good, { ...good, sku: `${p}-n2`, priceMinor: -5 }] }, 'BAD_USER_INPUT', /priceMinor/);
    await expectRefused(q, { items: [good, { ...good, sku: `${p}-n2`, currency: 'eur' }] }, 'BAD_USER_INPUT', /currency/);
    await expectRefused(q, { items: [good, good] }, 'BAD_USER_INPUT', /more than once/);
    await expectRefused(q, { items: [good, { ...good, sku: '' }] }, 'BAD_USER_INPUT', /sku/);
    expect(await stockAndEvents()).toEqual(before);
  });

  it('single-row mutations: negative stock, negative price, bad currency, congestion outside 0..1, bad dates', async () => {
    await expectRefused(`mutation { setInventory(sku: "${sku}", available: -1) { available } }`, {}, 'BAD_USER_INPUT');
    await expectRefused(`mutation { setInventory(sku: "${sku}", available: 1, reserved: -2) { available } }`, {}, 'BAD_USER_INPUT');
    await expectRefused(`mutation { setPrice(sku: "${sku}", amountMinor: -1, currency: "EUR") { sku } }`, {}, 'BAD_USER_INPUT');
    await expectRefused(`mutation { setPrice(sku: "${sku}", amountMinor: 1, currency: "EURO") { sku } }`, {}, 'BAD_USER_INPUT', /currency/);
    await expectRefused(`mutation { setFulfillment(region: "r", congestion: 1.5) { region } }`, {}, 'BAD_USER_INPUT', /congestion/);
    await expectRefused(`mutation { setFulfillment(region: "r", congestion: -0.1) { region } }`, {}, 'BAD_USER_INPUT', /congestion/);
    await expectRefused(`mutation($d: DateTime) { setFulfillment(region: "r", congestion: 0.1, nextSlotAt: $d) { region } }`,
      { d: 'tomorrow' }, 'BAD_USER_INPUT', /DateTime/);
    await expectRefused(`mutation { setPolicyFlag(scope: SKU, target: "", kind: FRAUD, active: true) { active } }`, {}, 'BAD_USER_INPUT');
    expect((await stockAndEvents())!.available).toBe(5);
  });

  it('unknown fields, arguments and enum values are validation errors, not 500s', async () => {
    await expectRefused(`{ decisionContext(userId: "u", candidates: []) { nope } }`, {}, 'GRAPHQL_VALIDATION_FAILED');
    await expectRefused(`{ decisionContext(userId: "u", candidates: [], extra: 1) { snapshot { id } } }`, {}, 'GRAPHQL_VALIDATION_FAILED');
    await expectRefused(`mutation { setPolicyFlag(scope: PLANET, target: "x", kind: FRAUD, active: true) { active } }`, {}, 'GRAPHQL_VALIDATION_FAILED');
    await expectRefused(RECORD, { events: [{ kind: 'PURCHASE', userId: 'u', sku, bogus: 1 }] }, 'BAD_USER_INPUT');
  });
});

describe('unexpected errors', () => {
  it('are masked in production: no SQL, no stack, a generic message and INTERNAL_SERVER_ERROR', async () => {
    // A pool whose search_path hides the tables makes every read fail inside Postgres.
    await gw.sql`create schema if not exists empty_for_mask_test`;
    const sql = postgres(inject('databaseUrl'), { max: 1, connection: { search_path: 'empty_for_mask_test' } });
    const app = createApp({ sql, logger: createLogger('silent'), production: true });
    const res = await app.fetch('http://test/graphql', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: DC, variables: { u: 'u', c: ['x'] } }),
    });
    await sql.end();
    const body = await res.text();
    expect(res.status).toBeLessThan(500);
    expect(JSON.parse(body).errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(body).not.toMatch(/relation|select|stack|\.ts/i);
  });
});
