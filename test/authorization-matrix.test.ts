// "Only roles that may write can write", for every transport × role × the
// operation a multi-operation document names. Before each call an admin runs
// a *different* operation of the same document, so any cache keyed by the
// document alone (compiled queries, parsed documents) would hand the caller
// the wrong operation. Each case checks: the operation that ran is the one
// named (no other root field in the answer), it ran only if the role may run
// it, and a write happened exactly when a permitted mutation ran.
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createKey, type Role } from '../src/auth/keys.js';
import { may, type OperationKind, type Permission } from '../src/auth/roles.js';
import { ownDatabase, uid } from './helpers.js';
import { liveGateway, sleep, type LiveGateway } from './live-helpers.js';

type Op = 'A' | 'M' | 'S';
type Transport = 'POST' | 'GET' | 'batch' | 'SSE' | 'ws';
interface Answer { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[]; open?: boolean }

const KIND: Record<Op, OperationKind> = { A: 'query', M: 'mutation', S: 'subscription' };
const ROOT: Record<Op, string> = { A: 'decisionContext', M: 'recordEvents', S: 'inventoryChanged' };
/** What each root field needs. A merchandiser may run mutations (flags), but not this one. */
const NEEDS: Record<Op, Permission> = { A: 'read', M: 'write', S: 'subscribe' };
const OPS: Op[] = ['A', 'M', 'S'];
const ROLES: Role[] = ['reader', 'subscriber', 'writer', 'merchandiser', 'admin'];
const TRANSPORTS: Transport[] = ['POST', 'GET', 'batch', 'SSE', 'ws'];

const document = (t: string) => `
  query A { decisionContext(userId: "${t}", candidates: ["${t}"]) { candidates { sku } } }
  mutation M { recordEvents(events: [{ kind: VIEW, userId: "${t}" }]) { accepted } }
  subscription S { inventoryChanged(skus: ["${t}"]) { cursor } }`;

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
const keys = {} as Record<Role, string>;

beforeAll(async () => {
  db = await ownDatabase();
  gw = await liveGateway({}, db.url);
  for (const role of ROLES) keys[role] = (await createKey(gw.sql, role, `matrix ${role}`)).key;
  await gw.keys.reload();
});
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

const auth = (role: Role) => ({ authorization: `Bearer ${keys[role]}` });
const JSON_ONLY = { accept: 'application/json' };

/** A body that is not JSON (e.g. a bare 406) still counts as a refusal, with the status as its code. */
async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  try {
    return JSON.parse(text) as Answer;
  } catch {
    return { errors: [{ extensions: { code: `HTTP_${res.status}` } }] };
  }
}

/** Reads one answer from an SSE response; an open stream with nothing to say yet counts as `open`. */
async function firstSseAnswer(res: Response, abort: AbortController): Promise<Answer> {
  if (!res.headers.get('content-type')?.includes('text/event-stream')) return (await res.json()) as Answer;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const timeout = sleep(400).then(() => 'timeout' as const);
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), timeout]);
      if (chunk === 'timeout') return { open: true };
      if (chunk.done) return {};
      buf += decoder.decode(chunk.value, { stream: true });
      const data = /event: next\ndata: (.*)\n/.exec(buf)?.[1];
      if (data) return JSON.parse(data) as Answer;
    }
  } finally {
    abort.abort();
  }
}

async function wsAnswer(role: Role, query: string, operationName: Op): Promise<Answer> {
  const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: auth(role) });
  try {
    return await new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => resolve({ open: true }), 400);
      client.subscribe({ query, operationName }, {
        next: (r) => { clearTimeout(timer); resolve(r as Answer); },
        error: (e) => { clearTimeout(timer); resolve({ errors: Array.isArray(e) ? e : [{ extensions: { code: String((e as { code?: number }).code ?? e) } }] }); },
        complete: () => { clearTimeout(timer); resolve({}); },
      });
    });
  } finally {
    await client.dispose();
  }
}

/** Sends the named operations of the document as `role`; one answer per operation. */
async function send(transport: Transport, role: Role, query: string, ops: Op[]): Promise<Answer[]> {
  const headers = { 'content-type': 'application/json', ...JSON_ONLY, ...auth(role) };
  switch (transport) {
    case 'POST':
      return [await answerOf(await fetch(gw.url, { method: 'POST', headers, body: JSON.stringify({ query, operationName: ops[0] }) }))];
    case 'GET': {
      const url = `${gw.url}?${new URLSearchParams({ query, operationName: ops[0]! })}`;
      return [await answerOf(await fetch(url, { headers: { ...JSON_ONLY, ...auth(role) } }))];
    }
    case 'batch': {
      const body = JSON.stringify(ops.map((operationName) => ({ query, operationName })));
      const answer = await answerOf(await fetch(gw.url, { method: 'POST', headers, body }));
      return Array.isArray(answer) ? answer : ops.map(() => answer);
    }
    case 'SSE': {
      const abort = new AbortController();
      const res = await fetch(gw.url, {
        method: 'POST', signal: abort.signal, headers: { ...headers, accept: 'text/event-stream' },
        body: JSON.stringify({ query, operationName: ops[0] }),
      });
      return [await firstSseAnswer(res, abort)];
    }
    case 'ws':
      return [await wsAnswer(role, query, ops[0]!)];
  }
}

const writesBy = async (t: string) =>
  Number((await gw.sql<{ n: string }[]>`select count(*) as n from events where user_id = ${t}`)[0]!.n);

/** GET cannot carry a mutation, and a subscription needs a streaming transport. */
const carries = (transport: Transport, op: Op) =>
  !(transport === 'GET' && op === 'M') && !(op === 'S' && (transport === 'POST' || transport === 'GET' || transport === 'batch'));

function check(answer: Answer, role: Role, transport: Transport, op: Op): boolean {
  const runs = may({ id: 'x', roles: [role], name: 'x' }, NEEDS[op]) && carries(transport, op);
  const fields = Object.keys(answer.data ?? {});
  // Whatever happens, no other operation's root field appears.
  expect(fields.filter((f) => f !== ROOT[op])).toEqual([]);
  if (runs) {
    expect(answer.errors ?? []).toEqual([]);
    if (op !== 'S') expect(answer.data?.[ROOT[op]]).toBeTruthy();
    else expect(answer.open || answer.data?.[ROOT[op]] !== undefined).toBe(true);
  } else {
    expect(answer.errors?.length ?? 0).toBeGreaterThan(0);
    expect(answer.data?.[ROOT[op]] ?? null).toBeNull();
    if (carries(transport, op)) expect(answer.errors![0]!.extensions?.code).toBe('FORBIDDEN');
  }
  return runs && op === 'M';
}

describe.each(TRANSPORTS)('%s', (transport) => {
  for (const role of ROLES) {
    for (const op of OPS) {
      it(`${role} naming ${op} (${KIND[op]}) runs exactly that operation, only if allowed`, async () => {
        for (const primer of OPS.filter((o) => o !== op)) {
          const t = uid(`mx-${transport}-${role}-${op}-${primer}`);
          const query = document(t);
          // An admin compiles another operation of the same text first (any transport shares the caches).
          await send(primer === 'S' ? 'ws' : 'POST', 'admin', query, [primer]);
          const before = await writesBy(t);
          const ops: Op[] = transport === 'batch' ? [primer, op] : [op];
          const answers = await send(transport, role, query, ops);
          let expectedWrites = 0;
          answers.forEach((a, i) => { if (check(a, role, transport, ops[i]!)) expectedWrites++; });
          expect(await writesBy(t) - before).toBe(expectedWrites);
        }
      });
    }
  }
});
