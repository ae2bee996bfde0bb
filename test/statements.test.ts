// One transaction, constant round trips: the statements per decision do not
// grow with the number of candidates, and all run on one connection.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DECISION, items, ok, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('stmts');
const skus = Array.from({ length: 200 }, (_, i) => `${p}-${i}`);

beforeAll(async () => {
  ok(await gw.gql(UPSERT, { items: items(p, Object.fromEntries(skus.slice(0, 150).map((s) => [s.slice(p.length + 1), {}]))) }));
  await gw.sql`insert into sessions (id, user_id) values (${`${p}-s`}, ${`${p}-u`})`;
});
afterAll(() => gw.close());

async function statementsFor(candidates: string[]) {
  gw.statements.length = 0;
  const res = await gw.gql(DECISION, { u: `${p}-u`, s: `${p}-s`, c: candidates, r: 'anywhere' });
  expect(ok(res).decisionContext.candidates).toHaveLength(candidates.length);
  // The driver's array-type lookup runs once per new connection, not per decision (the answer leaves before
  // its COMMIT is answered, so the next decision may open a connection while the last one commits).
  return gw.statements.filter((s) => !/^\s*select b\.oid, b\.typarray/.test(s));
}

it('issues the same statements for 1 and 200 candidates, inside one read-only snapshot transaction', async () => {
  const one = await statementsFor(skus.slice(0, 1));
  const many = await statementsFor(skus);
  expect(many.length, JSON.stringify([one, many])).toBe(one.length);
  expect(many.length).toBeLessThanOrEqual(4);
  expect(many[0]).toMatch(/^begin isolation level repeatable read read only/i);
  expect(many.at(-1)).toMatch(/^commit/i);
});

it('an operation of meta fields only opens no transaction; one field that reads, through a fragment too, does', async () => {
  const statementsOf = async (query: string) => {
    gw.statements.length = 0;
    ok(await gw.gql(query, { u: `${p}-u`, c: skus.slice(0, 1) }));
    return gw.statements.filter((s) => !/^\s*select b\.oid, b\.typarray/.test(s));
  };
  expect(await statementsOf('{ __typename }')).toEqual([]);
  expect(await statementsOf('query { __typename ... on Query { __schema { queryType { name } } } ...M } fragment M on Query { __type(name: "Query") { name } }')).toEqual([]);
  const reads = await statementsOf('query($u: ID!, $c: [ID!]!) { __typename ...R } fragment R on Query { decisionContext(userId: $u, candidates: $c) { candidates { sku } } }');
  expect(reads[0]).toMatch(/^begin isolation level repeatable read read only/i);
  expect(reads.at(-1)).toMatch(/^commit/i);
});
