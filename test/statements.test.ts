// Constant statements: a decision is ONE statement whatever the number of
// candidates (one statement reads one snapshot: no transaction needed); an
// operation that reads across ticks runs in one read-only transaction instead.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DECISION, items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';

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

it('a decision is one statement, the same for 1 and 200 candidates, with no transaction around it', async () => {
  const one = await statementsFor(skus.slice(0, 1));
  const many = await statementsFor(skus);
  expect(one).toHaveLength(1);
  expect(many).toHaveLength(1);
  expect(many[0]).toMatch(/^select \* from \(/i);
  expect(many[0]).toMatch(/pg_current_snapshot\(\)/); // facts …
  expect(many[0]).toMatch(/velocity_window/); // … and candidate state, in the same statement
});

it('an operation that reads across ticks runs again, whole, in one read-only snapshot transaction', async () => {
  // recentEvents(limit: 50) of a session with more events than the facts statement prefetches: a second statement, a tick later.
  ok(await gw.gql(RECORD, { events: Array.from({ length: 25 }, (_, i) => ({ kind: 'VIEW', userId: `${p}-u`, sessionId: `${p}-s`, sku: skus[i] })) }));
  const res = await (async () => {
    gw.statements.length = 0;
    return gw.gql(`query($u: ID!, $s: ID, $c: [ID!]!) { decisionContext(userId: $u, sessionId: $s, candidates: $c) {
      session { recentEvents(limit: 50) { kind } } candidates { sku } } }`, { u: `${p}-u`, s: `${p}-s`, c: skus.slice(0, 3) });
  })();
  expect(ok(res).decisionContext.candidates).toHaveLength(3);
  const stmts = gw.statements.filter((s) => !/^\s*select b\.oid, b\.typarray/.test(s));
  expect(stmts[0]).toMatch(/^select \* from \(/i); // the one-statement attempt
  expect(stmts[1]).toMatch(/^begin isolation level repeatable read read only/i);
  expect(stmts.at(-1)).toMatch(/^commit/i);
  expect(stmts.slice(2, -1).some((s) => /unnest\(\$1::text\[\], \$2::text\[\]/.test(s))).toBe(true); // the longer list, inside
});

it('an operation of meta fields only reads nothing; one field that reads, through a fragment too, is one statement', async () => {
  const statementsOf = async (query: string) => {
    gw.statements.length = 0;
    ok(await gw.gql(query, { u: `${p}-u`, c: skus.slice(0, 1) }));
    return gw.statements.filter((s) => !/^\s*select b\.oid, b\.typarray/.test(s));
  };
  expect(await statementsOf('{ __typename }')).toEqual([]);
  expect(await statementsOf('query { __typename ... on Query { __schema { queryType { name } } } ...M } fragment M on Query { __type(name: "Query") { name } }')).toEqual([]);
  const reads = await statementsOf('query($u: ID!, $c: [ID!]!) { __typename ...R } fragment R on Query { decisionContext(userId: $u, candidates: $c) { candidates { sku } } }');
  expect(reads).toHaveLength(1);
  expect(reads[0]).not.toMatch(/^begin/i);
});
