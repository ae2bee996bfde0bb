// Trusted documents (TRUSTED_DOCUMENTS=allow|only) through the real server, on every transport: POST, GET
// (its `extensions` parameter), batched POST, SSE and graphql-ws. In `only`, text is refused (admin keys too,
// unless TRUSTED_DOCUMENTS_ADMIN_TEXT), an unknown hash runs nothing, a hash cannot be paired with text or with
// another operation's name, and a refused mutation writes nothing.
import fs from 'node:fs';
import { buildSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.js';
import { readManifest, sha256, type Manifest } from '../src/plugins/trusted-documents.js';
import { manifestOf, manifestText } from '../src/scripts/documents.js';
import { schema } from '../src/schema/index.js';
import { startGateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { items, ownDatabase } from './helpers.js';
import { liveGateway, until, type LiveGateway } from './live-helpers.js';
import { rawSocket, sseAs, within } from './raw-clients.js';

const MANIFEST = 'trusted-documents.json';
const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as Manifest;
const id = (name: string) => manifest.operations.find((o) => o.name === name)!.id;
const pq = (name: string) => ({ persistedQuery: { version: 1, sha256Hash: id(name) } });
const DECISION_VARS = { userId: 'td-u', candidates: ['td-a'] };
const PURCHASE_VARS = { userId: 'td-u', sku: 'td-a', quantity: 1 };
const TEXT_PURCHASE = 'mutation { recordEvents(events: [{ kind: PURCHASE, userId: "td-x", sku: "td-a" }]) { accepted } }';
const TEXT_DECISION = '{ decisionContext(userId: "td-u", candidates: ["td-a"]) { candidates { sku } } }';

describe('trusted documents', () => {
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let only: LiveGateway;
  let onlyAdminText: LiveGateway;
  let allow: LiveGateway;
  let bff: Record<string, string>;
  let admin: Record<string, string>;

  beforeAll(async () => {
    db = await ownDatabase();
    const base = { trustedDocumentsManifest: MANIFEST };
    only = await liveGateway({ ...base, trustedDocuments: 'only' }, db.url);
    onlyAdminText = await liveGateway({ ...base, trustedDocuments: 'only', trustedDocumentsAdminText: true }, db.url);
    allow = await liveGateway({ ...base, trustedDocuments: 'allow' }, db.url);
    bff = { authorization: `Bearer ${(await createKey(db.sql, ['reader', 'subscriber', 'writer'], 'td bff')).key}` };
    admin = { authorization: `Bearer ${(await createKey(db.sql, 'admin', 'td ops')).key}` };
    // Every gateway has read both keys.
    await until(() => [only, onlyAdminText, allow].every((gw) => [bff, admin].every((h) => typeof gw.keys.authenticate(h.authorization!) !== 'string')));
    // The item, through the one gateway that takes text from an admin.
    const up = await postJson(onlyAdminText, admin, { query: 'mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }', variables: { i: items('td', { a: { available: 1000 } }) } });
    expect(up.body.data).toEqual({ upsertItems: { count: 1 } });
  });
  afterAll(async () => {
    await Promise.all([only?.stop(), onlyAdminText?.stop(), allow?.stop()]);
    await db?.drop();
  });

  async function postJson(gw: LiveGateway, headers: Record<string, string>, body: unknown) {
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  }
  async function get(gw: LiveGateway, headers: Record<string, string>, params: Record<string, unknown>) {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    const res = await fetch(`${gw.url}?${qs}`, { headers: { accept: 'application/json', ...headers } });
    return { status: res.status, body: (await res.json()) as any };
  }
  const stock = async () => (await db.sql`select available from inventory where sku = 'td-a'`)[0]!.available as number;
  const code = (body: any) => body.errors?.[0]?.extensions?.code;

  it('the committed manifest is what npm run documents builds from examples/bff/operations', () => {
    expect(fs.readFileSync(MANIFEST, 'utf8')).toBe(manifestText(manifestOf(['examples/bff/operations'])));
    for (const op of manifest.operations) expect(op.id).toBe(sha256(op.body));
  });

  it('only, POST: a hash runs its document; text, an unknown hash, text with a hash and a foreign operation name run nothing', async () => {
    const ok = await postJson(only, bff, { extensions: pq('Decision'), variables: DECISION_VARS });
    expect(ok.status).toBe(200);
    expect(ok.body.data.decisionContext.candidates[0].sku).toBe('td-a');
    const before = await stock();

    const text = await postJson(only, bff, { query: TEXT_PURCHASE });
    expect([text.status, code(text.body)]).toEqual([403, 'TRUSTED_DOCUMENT_REQUIRED']);
    const unknown = await postJson(only, bff, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('mutation { x }') } } });
    expect([unknown.status, code(unknown.body)]).toEqual([400, 'PERSISTED_QUERY_NOT_FOUND']);
    // A trusted query's hash with a mutation's text: the text is what would run, so it is refused.
    const paired = await postJson(only, bff, { query: TEXT_PURCHASE, extensions: pq('Decision') });
    expect(code(paired.body)).toBe('TRUSTED_DOCUMENT_REQUIRED');
    // A hash names one operation: another operation's name does not resolve in it.
    const foreign = await postJson(only, bff, { extensions: pq('Decision'), operationName: 'RecordPurchase', variables: PURCHASE_VARS });
    expect(foreign.body.data ?? null).toBeNull();
    expect(foreign.body.errors).toHaveLength(1);
    // Neither query nor hash, and a hash of the wrong shape.
    expect(code((await postJson(only, bff, { variables: {} })).body)).toBe('TRUSTED_DOCUMENT_REQUIRED');
    expect(code((await postJson(only, bff, { extensions: { persistedQuery: { version: 1, sha256Hash: 42 } } })).body)).toBe('TRUSTED_DOCUMENT_REQUIRED');
    expect(await stock()).toBe(before);

    const bought = await postJson(only, bff, { extensions: pq('RecordPurchase'), variables: PURCHASE_VARS });
    expect(bought.body.data.recordEvents.accepted).toBe(1);
    expect(await stock()).toBe(before - 1);
  });

  it('only, GET: the extensions parameter carries the hash; query text is refused, with or without a hash', async () => {
    const ok = await get(only, bff, { extensions: pq('Decision'), variables: DECISION_VARS });
    expect(ok.body.data.decisionContext.candidates[0].sku).toBe('td-a');
    const text = await get(only, bff, { query: TEXT_DECISION });
    expect([text.status, code(text.body)]).toEqual([403, 'TRUSTED_DOCUMENT_REQUIRED']);
    expect(code((await get(only, bff, { query: TEXT_DECISION, extensions: pq('Decision') })).body)).toBe('TRUSTED_DOCUMENT_REQUIRED');
    expect(code((await get(only, bff, { extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } })).body)).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('only, batched POST: each entry is held to it; a text entry beside trusted ones writes nothing', async () => {
    const before = await stock();
    const res = await postJson(only, bff, [
      { extensions: pq('Decision'), variables: DECISION_VARS },
      { query: TEXT_PURCHASE },
      { query: TEXT_PURCHASE, extensions: pq('RecordPurchase'), variables: PURCHASE_VARS },
    ]);
    expect(res.body).toHaveLength(3);
    expect(res.body[0].data.decisionContext.candidates[0].sku).toBe('td-a');
    expect(res.body.slice(1).map((b: any) => [b.data, code(b)])).toEqual([[undefined, 'TRUSTED_DOCUMENT_REQUIRED'], [undefined, 'TRUSTED_DOCUMENT_REQUIRED']]);
    expect(await stock()).toBe(before);
  });

  it('only, SSE: a trusted subscription streams; a text one is refused', async () => {
    const refused = sseAs(only.url, bff, 'subscription { inventoryChanged { cursor } }');
    await within(refused.ended, 5000, 'the refused stream to end');
    expect(await refused.status).toBe(403);
    expect(refused.errors.map((e) => e.extensions.code)).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
    expect(refused.items).toEqual([]);

    const live = sseAs(only.url, bff, null, { skus: ['td-a'] }, pq('StockChanges'));
    expect(await live.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    await postJson(only, bff, { extensions: pq('RecordPurchase'), variables: PURCHASE_VARS });
    await until(() => live.items.length > 0, 5000);
    expect(live.items[0].inventoryChanged.sku).toBe('td-a');
    live.close();
  });

  it('only, graphql-ws: text (subscription or mutation) and unknown hashes are refused per operation; a hash subscribes', async () => {
    const before = await stock();
    const s = await rawSocket(only.wsUrl);
    await s.init(bff);
    s.subscribe('text-sub', 'subscription { inventoryChanged { cursor } }');
    s.subscribe('text-mut', TEXT_PURCHASE);
    s.subscribe('paired', TEXT_PURCHASE, PURCHASE_VARS, pq('RecordPurchase'));
    s.subscribe('unknown', '', {}, { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } });
    for (const [op, expected] of [['text-sub', 'TRUSTED_DOCUMENT_REQUIRED'], ['text-mut', 'TRUSTED_DOCUMENT_REQUIRED'],
      ['paired', 'TRUSTED_DOCUMENT_REQUIRED'], ['unknown', 'PERSISTED_QUERY_NOT_FOUND']] as const) {
      const m = await s.waitFor((x) => x.id === op && x.type === 'error');
      expect(m.payload[0].extensions.code).toBe(expected);
    }
    expect(await stock()).toBe(before);
    s.subscribe('live', '', { skus: ['td-a'] }, pq('StockChanges'));
    await new Promise((r) => setTimeout(r, 300));
    s.subscribe('buy', '', PURCHASE_VARS, pq('RecordPurchase'));
    const [change] = await s.nexts('live', 1);
    expect(change.payload.data.inventoryChanged.sku).toBe('td-a');
    expect(await stock()).toBe(before - 1);
    s.close();
  });

  it('only: admin keys send text only with TRUSTED_DOCUMENTS_ADMIN_TEXT, on HTTP and graphql-ws; other keys never', async () => {
    expect(code((await postJson(only, admin, { query: TEXT_DECISION })).body)).toBe('TRUSTED_DOCUMENT_REQUIRED');
    expect((await postJson(onlyAdminText, admin, { query: TEXT_DECISION })).body.data.decisionContext.candidates).toEqual([{ sku: 'td-a' }]);
    expect(code((await postJson(onlyAdminText, bff, { query: TEXT_DECISION })).body)).toBe('TRUSTED_DOCUMENT_REQUIRED');
    const s = await rawSocket(onlyAdminText.wsUrl);
    await s.init(admin);
    s.subscribe('q', TEXT_DECISION);
    expect((await s.nexts('q', 1))[0].payload.data.decisionContext.candidates).toEqual([{ sku: 'td-a' }]);
    s.close();
    const b = await rawSocket(onlyAdminText.wsUrl);
    await b.init(bff);
    b.subscribe('q', TEXT_DECISION);
    expect((await b.waitFor((x) => x.id === 'q' && x.type === 'error')).payload[0].extensions.code).toBe('TRUSTED_DOCUMENT_REQUIRED');
    b.close();
  });

  it('a trusted document is still authorized: a reader key cannot run the trusted mutation', async () => {
    const reader = { authorization: `Bearer ${(await createKey(db.sql, 'reader', 'td reader')).key}` };
    await until(() => typeof only.keys.authenticate(reader.authorization) !== 'string');
    const before = await stock();
    const res = await postJson(only, reader, { extensions: pq('RecordPurchase'), variables: PURCHASE_VARS });
    expect([res.status, code(res.body)]).toEqual([403, 'FORBIDDEN']);
    expect(await stock()).toBe(before);
  });

  it('allow: hashes and text both run; an unknown hash still runs nothing', async () => {
    expect((await postJson(allow, bff, { extensions: pq('Decision'), variables: DECISION_VARS })).body.data.decisionContext.candidates[0].sku).toBe('td-a');
    expect((await postJson(allow, bff, { query: TEXT_DECISION })).body.data.decisionContext.candidates).toEqual([{ sku: 'td-a' }]);
    expect(code((await postJson(allow, bff, { extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } })).body)).toBe('PERSISTED_QUERY_NOT_FOUND');
    // A batch mixing both: each entry runs its own document.
    const batch = await postJson(allow, bff, [{ extensions: pq('Decision'), variables: DECISION_VARS }, { query: '{ catalog(search: "td-a") { sku } }' }]);
    expect(batch.body[0].data.decisionContext.snapshot.id).toBeTypeOf('string');
    expect(batch.body[1].data).toEqual({ catalog: [{ sku: 'td-a' }] });
    const s = await rawSocket(allow.wsUrl);
    await s.init(bff);
    s.subscribe('t', TEXT_DECISION);
    s.subscribe('h', '', DECISION_VARS, pq('Decision'));
    expect((await s.nexts('t', 1))[0].payload.data.decisionContext.candidates).toEqual([{ sku: 'td-a' }]);
    expect((await s.nexts('h', 1))[0].payload.data.decisionContext.candidates[0].sku).toBe('td-a');
    s.close();
  });

  it('a manifest entry whose id is not its body\'s hash, or that holds two operations, or that the schema refuses, fails the start', async () => {
    const entry = (body: string, name: string, type = 'query', idOf = sha256) => ({ id: idOf(body), name, type, body });
    const file = (ops: unknown[]) => JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: ops });
    // Another operation's document under a trusted hash.
    expect(() => readManifest(file([{ ...entry('query A { catalog { sku } }', 'A'), id: id('Decision') }]), schema)).toThrow(/not the sha256/);
    expect(() => readManifest(file([entry('query A { catalog { sku } } mutation B { setInventory(sku: "x", available: 1) { available } }', 'A')]), schema)).toThrow(/exactly one/);
    expect(() => readManifest(file([entry('query A { nope }', 'A')]), schema)).toThrow(/nope/);
    expect(() => readManifest(file([entry('query A { __schema { types { name } } }', 'A')]), schema, { introspection: false })).toThrow(/introspection/i);
    expect(readManifest(fs.readFileSync(MANIFEST, 'utf8'), schema).size).toBe(3);
    expect(() => readManifest(fs.readFileSync(MANIFEST, 'utf8'), buildSchema('type Query { x: Int }'))).toThrow();
    const bad = `${fs.mkdtempSync('/tmp/td-')}/m.json`;
    fs.writeFileSync(bad, file([entry('query A { catalog { sku } } query B { catalog { sku } }', 'A')]));
    await expect(startGateway(only.sql, { ...gatewayConfigOf(), trustedDocuments: 'only', trustedDocumentsManifest: bad }, createLogger('silent')))
      .rejects.toThrow(/TRUSTED_DOCUMENTS_MANIFEST .*exactly one/);
  });
});

function gatewayConfigOf() {
  return {
    port: 0, host: '127.0.0.1', liveBufferLimit: 10_000, livePollMs: 1000, changeLogRetentionSeconds: 86_400, changeLogPruneSeconds: 0,
    production: false, maxInFlight: 256, poolMax: 10, graphiql: true, introspection: true, maxBatch: 10, authRequired: false,
    wsMaxPayloadBytes: 1024 * 1024, wsMaxSubscriptions: 100, wsMaxSocketsPerKey: 50,
  };
}
