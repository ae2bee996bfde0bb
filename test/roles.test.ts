// Keys fit real callers: one key may hold several roles (a storefront BFF reads,
// subscribes and records events with one key), and a merchandiser key does what
// the live board does — read, subscribe, hold SKUs and categories — and nothing
// else. The keys script creates them and answers in JSON for scripts.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, listKeys, parseRoles } from '../src/auth/keys.js';
import { items, ownDatabase } from './helpers.js';
import { liveGateway, postAs, until, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
let bff: string;
let merch: string;

const DECISION = '{ decisionContext(userId: "u", candidates: ["roles-a"]) { candidates { eligible } } }';
const RECORD = 'mutation { recordEvents(events: [{ kind: VIEW, userId: "u", sku: "roles-a" }]) { accepted } }';
const HOLD = (scope: string, target: string) =>
  `mutation { setPolicyFlag(scope: ${scope}, target: "${target}", kind: QUALITY_HOLD, active: true, reason: "board") { active } }`;
const SET = 'mutation { setInventory(sku: "roles-a", available: 3) { available } }';
const SUB = 'subscription { policyFlipped { flag { target } } }';

beforeAll(async () => {
  db = await ownDatabase();
  gw = await liveGateway({}, db.url);
  const admin = (await createKey(gw.sql, 'admin', 'setup')).key;
  bff = (await createKey(gw.sql, ['reader', 'subscriber', 'writer'], 'storefront BFF')).key;
  merch = (await createKey(gw.sql, 'merchandiser', 'board')).key;
  await gw.keys.reload();
  const up = await postAs(gw.url, { authorization: `Bearer ${admin}` },
    'mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }', { i: items('roles', { a: {} }) });
  expect(up.body.errors).toBeUndefined();
});
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const code = (res: { body: any }) => res.body.errors?.[0]?.extensions?.code ?? 'OK';

describe('one key, several roles', () => {
  it('a reader+subscriber+writer key reads, writes and subscribes', async () => {
    expect(code(await postAs(gw.url, as(bff), DECISION))).toBe('OK');
    expect(code(await postAs(gw.url, as(bff), RECORD))).toBe('OK');
    const client = wsClient(gw.wsUrl, as(bff));
    const before = gw.hub.subscriberCount;
    const s = wsSubscribe(client, SUB);
    await until(() => gw.hub.subscriberCount === before + 1);
    s.close();
    await client.dispose();
  });

  it('parses role lists strictly', () => {
    expect(parseRoles('reader,subscriber')).toEqual(['reader', 'subscriber']);
    expect(parseRoles('reader,root')).toBeNull();
    expect(parseRoles('')).toBeNull();
  });
});

describe('merchandiser', () => {
  it('reads, subscribes and holds SKUs and categories; nothing else', async () => {
    expect(code(await postAs(gw.url, as(merch), DECISION))).toBe('OK');
    expect(code(await postAs(gw.url, as(merch), HOLD('SKU', 'roles-a')))).toBe('OK');
    expect(code(await postAs(gw.url, as(merch), HOLD('CATEGORY', 'roles-cat')))).toBe('OK');
    const before = await gw.sql`select (select count(*) from events)::int as e, (select available from inventory where sku = 'roles-a') as a,
      (select count(*) from policy_flags where scope = 'USER')::int as u`;
    for (const refused of [RECORD, SET, HOLD('USER', 'someone')]) expect(code(await postAs(gw.url, as(merch), refused))).toBe('FORBIDDEN');
    // An allowed write next to a refused one in one document: refused whole, nothing written.
    const mixed = await postAs(gw.url, as(merch), `mutation { a: setPolicyFlag(scope: SKU, target: "roles-b", kind: RISK_GATE, active: true) { active } b: setInventory(sku: "roles-a", available: 9) { available } }`);
    expect(mixed.body.errors.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    expect(await gw.sql`select 1 from policy_flags where target = 'roles-b'`).toHaveLength(0);
    const after = await gw.sql`select (select count(*) from events)::int as e, (select available from inventory where sku = 'roles-a') as a,
      (select count(*) from policy_flags where scope = 'USER')::int as u`;
    expect(after).toEqual(before);
  });
});

describe('npm run keys', () => {
  it('creates a multi-role key and lists keys as JSON', () => {
    const env = { ...process.env, DATABASE_URL: db.url };
    const created = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'src/scripts/keys.ts', 'create', 'reader,subscriber', 'script key', '--json'], { env }).toString());
    expect(created).toMatchObject({ roles: ['reader', 'subscriber'], name: 'script key' });
    expect(created.key).toMatch(/^dcg_[0-9a-f]{12}_/);
    const listed = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'src/scripts/keys.ts', 'list', '--json'], { env }).toString());
    expect(listed.find((k: any) => k.id === created.id)).toMatchObject({ roles: ['reader', 'subscriber'], revokedAt: null });
  });

  it('refuses an unknown role with the usage line', async () => {
    let failed: any;
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'src/scripts/keys.ts', 'create', 'root', 'x'], { env: { ...process.env, DATABASE_URL: db.url }, stdio: 'pipe' });
    } catch (e) { failed = e; }
    expect(failed.status).toBe(2);
    expect(String(failed.stderr)).toMatch(/roles: reader, subscriber, writer, merchandiser, admin/);
    expect((await listKeys(gw.sql)).some((k) => k.name === 'x')).toBe(false);
  });
});
