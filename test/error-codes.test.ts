// One vocabulary on every transport: a request error gets its code from the
// phase that refused it (parse, validate, variable coercion), never from its
// message text, and POST, GET, a batch, SSE and graphql-ws agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../src/errors.js';
import { sseEvents } from './raw-clients.js';
import { liveGateway, wsClient, type LiveGateway } from './live-helpers.js';

let gw: LiveGateway;
beforeAll(async () => { gw = await liveGateway(); });
afterAll(() => gw.stop());

const decision = (alias: string) => `${alias}: decisionContext(userId: "u", candidates: []) { snapshot { id } }`;
const CASES: { name: string; query: string; variables?: Record<string, unknown>; code: keyof typeof ERRORS }[] = [
  { name: 'a syntax error (parse)', query: '{ decisionContext(', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'the token limit, thrown by the parser', query: `{ decisionContext(userId: "u", candidates: [${Array.from({ length: 5000 }, (_, i) => `"s${i}"`).join(',')}]) { snapshot { id } } }`, code: 'GRAPHQL_PARSE_FAILED' },
  // graphql-armor words this one "Syntax Error: …" but throws it from validation: the phase decides.
  { name: 'the alias limit, thrown by a validation rule', query: `{ ${Array.from({ length: 16 }, (_, i) => decision(`d${i}`)).join(' ')} }`, code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'an unknown field (validate)', query: '{ nope }', code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'an Int literal past 32 bits (validate, but bad input)', query: '{ catalog(limit: 99999999999) { sku } }', code: 'BAD_USER_INPUT' },
  // graphql-ws checked this itself and answered without a code ("Unable to identify operation").
  { name: 'several operations and no operationName (resolution)', query: 'query A { __typename } query B { __typename }', code: 'OPERATION_RESOLUTION_FAILURE' },
  { name: 'a variable of the wrong type (execute)', query: 'query($n: Int!) { catalog(limit: $n) { sku } }', variables: { n: 'ten' }, code: 'BAD_USER_INPUT' },
];

async function overPost(query: string, variables?: Record<string, unknown>) {
  const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await res.json() as any).errors;
}
async function overGet(query: string, variables?: Record<string, unknown>) {
  const u = new URL(gw.url);
  u.searchParams.set('query', query);
  if (variables) u.searchParams.set('variables', JSON.stringify(variables));
  return (await (await fetch(u)).json() as any).errors;
}
async function overBatch(query: string, variables?: Record<string, unknown>) {
  const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ query, variables }]) });
  return (await res.json() as any)[0].errors;
}
async function overSse(query: string, variables?: Record<string, unknown>) {
  const res = await fetch(gw.url, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query, variables }),
  });
  for await (const { event, data } of sseEvents(res)) if (event === 'next') return JSON.parse(data).errors;
  throw new Error('no next event');
}
function overWs(query: string, variables?: Record<string, unknown>): Promise<any> {
  const client = wsClient(gw.wsUrl);
  return new Promise((resolve, reject) => {
    client.subscribe({ query, variables }, {
      next: (r) => resolve(r.errors),
      error: (e) => (Array.isArray(e) ? resolve(e) : reject(e)),
      complete: () => resolve(undefined),
    });
  }).finally(() => client.dispose());
}

const TRANSPORTS = { POST: overPost, GET: overGet, 'batched POST': overBatch, SSE: overSse, 'graphql-ws': overWs };

describe.each(Object.entries(TRANSPORTS))('over %s', (transport, send) => {
  // Over GET the token-limit document (45 kB) is past Node's header limit: the HTTP server answers 431 itself.
  const cases = transport === 'GET' ? CASES.filter((c) => c.query.length < 8000) : CASES;
  it.each(cases)('$name → $code', async ({ query, variables, code }) => {
    const errors = await send(query, variables);
    expect(errors?.length, JSON.stringify(errors)).toBeGreaterThan(0);
    expect(errors[0].extensions?.code, JSON.stringify(errors[0])).toBe(code);
    // HTTP's status and headers are for yoga's response; over a stream they are noise (and over HTTP yoga strips them).
    expect(errors[0].extensions?.http, JSON.stringify(errors[0])).toBeUndefined();
  });
});
