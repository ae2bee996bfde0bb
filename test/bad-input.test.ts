// Bad input: a clear GraphQL error with extensions.code, never a 500, never a partial write.
import { GraphQLError, parse, validate } from 'graphql';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../src/app.js';
import { maskError, recodeLiteralInputErrors } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { schema } from '../src/schema/index.js';
import { items, ok, RECORD, testGateway, uid, UPSERT, type GqlResponse } from './helpers.js';

const gw = testGateway();
const p = uid('bad');
const sku = `${p}-a`;

beforeAll(async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 5 } }) }));
});
afterAll(() => gw.close());

// The gateway under test logs here: bad input must never cost an error-level log line.
const logs: { level: number; msg: string; err?: unknown }[] = [];
const app = createApp({ sql: gw.sql, logger: createLogger('warn', { write: (l: string) => { logs.push(JSON.parse(l)); } }) });

async function call(query: string, variables: Record<string, unknown> = {}, sse = false): Promise<GqlResponse> {
  const res = await app.fetch('http://test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: sse ? 'text/event-stream' : 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  // SSE: the first `next` event carries the (error) result.
  const body = sse ? JSON.parse(/event: next\ndata: (.*)/.exec(text)?.[1] ?? '{}') : JSON.parse(text);
  return { ...body, status: res.status };
}

async function expectRefused(query: string, variables: Record<string, unknown>, code: string, field?: RegExp, sse = false) {
  logs.length = 0;
  const res = await call(query, variables, sse);
  expect(res.status).toBeLessThan(500);
  expect(res.data?.[Object.keys(res.data ?? {})[0] ?? ''] ?? null).toBeNull();
  expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res.errors)).toBe(code);
  if (field) expect(res.errors![0]!.message).toMatch(field);
  expect(logs.filter((l) => l.level >= 50), 'error-level log lines').toEqual([]);
  return res;
}

/** BAD_USER_INPUT from edge validation: `extensions.field` names the field, and the message starts with it. */
async function expectBadInput(query: string, variables: Record<string, unknown>, field: string, message?: RegExp, sse = false) {
  const res = await expectRefused(query, variables, 'BAD_USER_INPUT', message, sse);
  expect(res.errors![0]!.extensions?.field, JSON.stringify(res.errors)).toBe(field);
  expect(res.errors![0]!.message.startsWith(`${field}: `), res.errors![0]!.message).toBe(true);
  return res;
}

/** Everything this file's prefix owns, in every table a write can touch (change log included). */
async function footprint() {
  const like = `${p}%`;
  const [row] = await gw.sql`select
    (select json_agg(t order by sku)::text from (select sku, title, category, updated_at from items where sku like ${like}) t) as items,
    (select json_agg(t order by sku)::text from (select sku, available, reserved, updated_at from inventory where sku like ${like}) t) as stock,
    (select json_agg(t order by sku)::text from (select * from prices where sku like ${like}) t) as prices,
    (select json_agg(t order by sku)::text from (select sku, sales_total, clicks_total from sku_counters where sku like ${like}) t) as counters,
    (select count(*)::int from events where user_id like ${like} or session_id like ${like} or sku like ${like}) as events,
    (select count(*)::int from sessions where id like ${like} or user_id like ${like}) as sessions,
    (select count(*)::int from users where id like ${like}) as users,
    (select json_agg(t order by target)::text from (select * from policy_flags where target like ${like}) t) as flags,
    (select json_agg(t order by region)::text from (select * from fulfillment where region like ${like}) t) as regions,
    (select count(*)::int from change_log where key like ${like} or payload::text like ${`%${p}%`}) as changes`;
  return row;
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

const NUL = '\u0000';
const SET_INVENTORY = `mutation($s: ID!, $a: Int!, $r: Int) { setInventory(sku: $s, available: $a, reserved: $r) { available reserved } }`;
const SET_PRICE = `mutation($s: ID!, $a: Int!, $c: String!) { setPrice(sku: $s, amountMinor: $a, currency: $c) { sku } }`;
const SET_FLAG = `mutation($t: ID!, $r: String) { setPolicyFlag(scope: SKU, target: $t, kind: QUALITY_HOLD, active: false, reason: $r) { active } }`;
const SET_FULFILLMENT = `mutation($r: String!, $c: Float!, $l: Int, $d: DateTime) {
  setFulfillment(region: $r, congestion: $c, latencyMinutes: $l, nextSlotAt: $d) { region congestion nextSlotAt } }`;
const CATALOG = `query($s: String, $c: String, $l: Int!) { catalog(search: $s, category: $c, limit: $l) { sku } }`;
const DC_S = `query($u: ID!, $s: ID, $c: [ID!]!, $r: String) { decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r) { candidates { sku } } }`;
const SUB = `subscription($k: [ID!], $a: String) { inventoryChanged(skus: $k, after: $a) { sku } }`;

/** One case per string argument that reaches SQL: [field, document, variables with `bad` in that field, over SSE]. */
function everyStringArgument(bad: string): [string, string, Record<string, unknown>, boolean?][] {
  const buy = { kind: 'PURCHASE', userId: `${p}-u`, sessionId: `${p}-s`, sku, quantity: 1 };
  const good = items(p, { new1: {} })[0]!;
  return [
    ['userId', DC_S, { u: `${p}-u${bad}`, c: [] }],
    ['sessionId', DC_S, { u: `${p}-u`, s: `${p}-s${bad}`, c: [] }],
    ['candidates.1', DC_S, { u: `${p}-u`, c: [sku, `${sku}${bad}`] }],
    ['region', DC_S, { u: `${p}-u`, c: [sku], r: `${p}-r${bad}` }],
    ['events.1.userId', RECORD, { events: [buy, { ...buy, userId: `${p}-u${bad}` }] }],
    ['events.1.sessionId', RECORD, { events: [buy, { ...buy, sessionId: `${p}-s${bad}` }] }],
    ['events.1.sku', RECORD, { events: [buy, { ...buy, sku: `${sku}${bad}` }] }],
    ['items.1.sku', UPSERT, { items: [good, { ...good, sku: `${p}-new2${bad}` }] }],
    ['items.1.title', UPSERT, { items: [good, { ...good, sku: `${p}-new2`, title: `T${bad}` }] }],
    ['items.1.category', UPSERT, { items: [good, { ...good, sku: `${p}-new2`, category: `${p}-c${bad}` }] }],
    ['items.1.currency', UPSERT, { items: [good, { ...good, sku: `${p}-new2`, currency: `EU${bad}` }] }],
    ['sku', SET_INVENTORY, { s: `${sku}${bad}`, a: 1 }],
    ['sku', SET_PRICE, { s: `${sku}${bad}`, a: 1, c: 'EUR' }],
    ['currency', SET_PRICE, { s: sku, a: 1, c: `EU${bad}` }],
    ['target', SET_FLAG, { t: `${p}-t${bad}` }],
    ['reason', SET_FLAG, { t: `${p}-t`, r: `why${bad}` }],
    ['region', SET_FULFILLMENT, { r: `${p}-r${bad}`, c: 0.5 }],
    ['search', CATALOG, { s: `x${bad}`, l: 10 }],
    ['category', CATALOG, { c: `${p}-c${bad}`, l: 10 }],
    ['skus.0', SUB, { k: [`${sku}${bad}`] }, true],
    ['after', SUB, { a: `1${bad}` }, true],
  ];
}

describe('bad input gets a clear code and changes nothing', () => {
  it('a NUL byte in any ID or text is BAD_USER_INPUT naming the field, with nothing written and no error log', async () => {
    const before = await footprint();
    for (const [field, query, variables, sse] of everyStringArgument(NUL)) {
      await expectBadInput(query, variables, field, undefined, sse);
    }
    expect(await footprint()).toEqual(before);
  });

  it('a lone UTF-16 surrogate in any ID or text is BAD_USER_INPUT (postgres.js would store U+FFFD instead)', async () => {
    const before = await footprint();
    for (const bad of ['\ud800', '\udfff', 'x\udc00\ud800']) {
      for (const [field, query, variables, sse] of everyStringArgument(bad)) {
        await expectBadInput(query, variables, field, undefined, sse);
      }
    }
    expect(await footprint()).toEqual(before);
    // A surrogate pair is one well-formed character and stays accepted.
    ok(await call(UPSERT, { items: items(p, { emoji: {} }).map((i) => ({ ...i, title: 'Tee \ud83d\ude00' })) }));
    const [row] = await gw.sql`select title from items where sku = ${`${p}-emoji`}`;
    expect(row!.title).toBe('Tee 😀');
  });

  it('numbers above their sane bounds are BAD_USER_INPUT stating the bound, with nothing written', async () => {
    const before = await footprint();
    const good = items(p, { new1: {} })[0]!;
    const buy = { kind: 'PURCHASE', userId: `${p}-u`, sku, quantity: 1 };
    await expectBadInput(UPSERT, { items: [good, { ...good, sku: `${p}-new2`, priceMinor: 1_000_000_001 }] }, 'items.1.priceMinor', /at most 1000000000/);
    await expectBadInput(UPSERT, { items: [good, { ...good, sku: `${p}-new2`, available: 1_000_000_001 }] }, 'items.1.available', /at most 1000000000/);
    await expectBadInput(SET_PRICE, { s: sku, a: 1_000_000_001, c: 'EUR' }, 'amountMinor', /at most 1000000000/);
    await expectBadInput(SET_INVENTORY, { s: sku, a: 1_000_000_001 }, 'available', /at most 1000000000/);
    await expectBadInput(SET_INVENTORY, { s: sku, a: 5, r: 1_000_000_001 }, 'reserved', /at most 1000000000/);
    await expectBadInput(RECORD, { events: [buy, { ...buy, quantity: 100_001 }] }, 'events.1.quantity', /at most 100000/);
    await expectBadInput(SET_FULFILLMENT, { r: `${p}-r`, c: 0.5, l: 43_201 }, 'latencyMinutes', /at most 43200/);
    await expectBadInput(CATALOG, { l: 1001 }, 'limit', /at most 1000/);
    // GraphQL's own 32-bit Int bound, in a variable; not a number at all (NaN and Infinity cannot be sent as JSON).
    await expectRefused(SET_INVENTORY, { s: sku, a: 2 ** 31 }, 'BAD_USER_INPUT', /\$a.*32-bit/);
    await expectRefused(SET_FULFILLMENT, { r: `${p}-r`, c: 'NaN' }, 'BAD_USER_INPUT', /\$c/);
    await expectRefused(SET_FULFILLMENT, { r: `${p}-r`, c: 'Infinity' }, 'BAD_USER_INPUT', /\$c/);
    await expectRefused(`mutation { setFulfillment(region: "${p}-r", congestion: 1e400) { region } }`, {}, 'BAD_USER_INPUT', /congestion/);
    expect(await footprint()).toEqual(before);
  });

  it('literals a built-in scalar cannot hold are labelled BAD_USER_INPUT by recodeLiteralInputErrors', () => {
    const doc = parse(`mutation { a: setInventory(sku: "x", available: 2147483648) { available }
      b: setPrice(sku: "x", amountMinor: 1.5, currency: "EUR") { sku } c: setFulfillment(region: "r", congestion: NaN) { region }
      d: setPolicyFlag(scope: PLANET, target: "x", kind: FRAUD, active: true) { active } }`);
    const errors = validate(schema, doc);
    for (const e of errors) (e.extensions as Record<string, unknown>).code = 'GRAPHQL_VALIDATION_FAILED'; // as yoga labels them
    recodeLiteralInputErrors(errors);
    expect(errors.map((e) => [e.extensions.code, e.message.replace(/:.*/, '')])).toEqual([
      ['BAD_USER_INPUT', 'Int cannot represent non 32-bit signed integer value'],
      ['BAD_USER_INPUT', 'Int cannot represent non-integer value'],
      ['BAD_USER_INPUT', 'Float cannot represent non numeric value'],
      ['GRAPHQL_VALIDATION_FAILED', 'Value "PLANET" does not exist in "PolicyScope" enum.'],
    ]);
  });

  // Validation errors never reach maskError, and yoga codes them GRAPHQL_VALIDATION_FAILED; only an
  // onValidate hook can relabel them (plugins/input-error-codes.ts, not yet calling recodeLiteralInputErrors).
  // Flip to `it` once it does.
  it('an Int literal beyond 32 bits gets BAD_USER_INPUT, like the same value in a variable', async () => {
    await expectRefused(`mutation { setInventory(sku: "${sku}", available: 2147483648) { available } }`, {}, 'BAD_USER_INPUT', /32-bit/);
    await expectRefused(`mutation { setPrice(sku: "${sku}", amountMinor: 1.5, currency: "EUR") { sku } }`, {}, 'BAD_USER_INPUT', /non-integer/);
    await expectRefused(`mutation { setFulfillment(region: "${p}-r", congestion: NaN) { region } }`, {}, 'BAD_USER_INPUT', /Float/);
  });

  it('a congestion too small for a real is stored as 0, not refused by Postgres', async () => {
    const res = ok(await call(SET_FULFILLMENT, { r: `${p}-tiny`, c: 1e-50 }));
    expect(res.setFulfillment.congestion).toBe(0);
  });

  it('DateTime values outside years 0001..9999 (UTC) or not on the calendar are BAD_USER_INPUT, with nothing written', async () => {
    const before = await footprint();
    for (const d of ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59', '2026-02-30T00:00:00Z', '2025-02-29T12:00:00Z']) {
      await expectRefused(SET_FULFILLMENT, { r: `${p}-r`, c: 0.5, d }, 'BAD_USER_INPUT', /\$d.*DateTime/);
      await expectRefused(`mutation { setFulfillment(region: "${p}-r", congestion: 0.5, nextSlotAt: "${d}") { region } }`, {},
        'BAD_USER_INPUT', /DateTime/);
    }
    await expectRefused(SET_FULFILLMENT, { r: `${p}-r`, c: 0.5, d: '0000-01-01T00:00:00Z' }, 'BAD_USER_INPUT', /0001.*9999/);
    expect(await footprint()).toEqual(before);
    // The edges of the range, and a leap day, are fine.
    for (const d of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2024-02-29T12:00:00+01:00']) {
      ok(await call(SET_FULFILLMENT, { r: `${p}-edge`, c: 0.5, d }));
    }
  });

  it('reserved above available is refused naming the SKU, writing nothing (the whole batch, change log included)', async () => {
    const [r1, r2] = [`${p}-r1`, `${p}-r2`];
    ok(await call(UPSERT, { items: items(p, { r1: { available: 5 }, r2: { available: 5 } }) }));
    ok(await call(SET_INVENTORY, { s: r1, a: 5, r: 3 }));
    ok(await call(SET_INVENTORY, { s: r2, a: 5, r: 4 }));
    const before = await footprint();
    await expectBadInput(SET_INVENTORY, { s: r1, a: 1, r: 2 }, 'reserved', new RegExp(`"${r1}"`));
    await expectBadInput(SET_INVENTORY, { s: r1, a: 2 }, 'available', new RegExp(`3 units reserved for SKU "${r1}"`));
    const batch = items(p, { fresh: {}, r2: { available: 1 }, r1: { available: 2 } });
    const res = await expectBadInput(UPSERT, { items: batch }, 'items.1.available', new RegExp(`"${r2}".*"${r1}"`));
    expect(res.errors![0]!.extensions?.skus).toEqual([r2, r1]);
    expect(await footprint()).toEqual(before);
    // Down to exactly the reserved units is fine.
    expect(ok(await call(SET_INVENTORY, { s: r1, a: 3 })).setInventory).toEqual({ available: 3, reserved: 3 });
    ok(await call(UPSERT, { items: items(p, { r2: { available: 4 } }) }));
  });

  it('Postgres data exceptions from caller values become BAD_USER_INPUT, logged at warn (safety net behind the edge checks)', async () => {
    const failure = (q: PromiseLike<unknown>) => Promise.resolve(q).then(() => expect.fail('expected a database error'), (e: unknown) => e);
    const tooLong = failure(gw.sql.begin(async (tx) => {
      await tx`create temp table too_long (v varchar(3)) on commit drop`;
      await tx`insert into too_long values (${'abcd'})`;
    }));
    const cases: [string, unknown][] = [
      ['22021', await failure(gw.sql`select ${`a${NUL}`}::text`)],
      ['22003', await failure(gw.sql`select ${'99999999999'}::int`)],
      ['22001', await tooLong],
      ['22P02', await failure(gw.sql`select ${'abc'}::int`)],
      ['22008', await failure(gw.sql`select ${'0000-01-01T00:00:00Z'}::timestamptz`)],
    ];
    for (const [state, err] of cases) {
      expect((err as { code: string }).code).toBe(state);
      const errors: unknown[] = [];
      const warnings: unknown[] = [];
      const mask = maskError((e) => errors.push(e), (e) => warnings.push(e));
      // As resolvers raise it (located, with a path) and as plugins do (bare).
      for (const raised of [new GraphQLError('x', { originalError: err as Error, path: ['setPrice'] }), err]) {
        const masked = mask(raised, 'Unexpected error.') as GraphQLError;
        expect(masked.extensions.code, state).toBe('BAD_USER_INPUT');
        expect(masked.message).not.toMatch(/select|postgres|relation/i);
        // yoga logs at error level whatever maskError replaces: a located error is relabelled, not replaced.
        if (raised instanceof GraphQLError) expect(masked).toBe(raised);
      }
      expect(errors).toEqual([]);
      expect(warnings).toEqual([err, err]);
    }
    // A fault on the server's side stays INTERNAL_SERVER_ERROR, logged at error.
    const errors: unknown[] = [];
    const warnings: unknown[] = [];
    const other = await failure(gw.sql`select * from no_such_table_for_mask_test`);
    expect((maskError((e) => errors.push(e), (e) => warnings.push(e))(other, 'Unexpected error.') as GraphQLError).extensions.code)
      .toBe('INTERNAL_SERVER_ERROR');
    expect([errors.length, warnings.length]).toEqual([1, 0]);
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

describe('requests yoga cannot read', () => {
  it('get BAD_REQUEST (HTTP 400), never INTERNAL_SERVER_ERROR: variables or extensions that are not JSON, a batch entry that is not an object', async () => {
    const { liveGateway } = await import('./live-helpers.js');
    const gw = await liveGateway();
    const answers = [
      await fetch(`${gw.url}?query=%7B__typename%7D&variables=%7B`, { headers: { accept: 'application/json' } }),
      await fetch(`${gw.url}?query=%7B__typename%7D&extensions=%7B`, { headers: { accept: 'application/json' } }),
      await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"query":"{__typename}"}, null]' }),
      await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}","variables":"{"}' }),
    ];
    for (const res of answers) {
      const text = await res.text();
      expect(res.status, text).toBeLessThan(500);
      expect(text).not.toContain('INTERNAL_SERVER_ERROR');
      expect(JSON.parse(text).errors[0].extensions.code).toMatch(/^(BAD_REQUEST|BAD_USER_INPUT)$/);
    }
    await gw.stop();
  });

  it('a body that is not JSON: BAD_REQUEST (400) with the code alone in extensions (yoga echoed the parser\'s error as originalError)', async () => {
    const { liveGateway } = await import('./live-helpers.js');
    const gw = await liveGateway();
    try {
      for (const accept of ['application/json', 'application/graphql-response+json']) {
        const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: '{"query": "{ secret' });
        const body = (await res.json()) as any;
        expect(res.status).toBe(400);
        expect(body.errors).toHaveLength(1);
        expect(body.errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
        expect(JSON.stringify(body)).not.toMatch(/SyntaxError|secret/);
      }
    } finally {
      await gw.stop();
    }
  });
});
