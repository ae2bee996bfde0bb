// USER-scope policy flags name a person and carry free-text fraud reasons:
// policyFlipped delivers them to admin keys only, over SSE and graphql-ws,
// live and on replay; other keys get SKU and CATEGORY flips and a clear
// FORBIDDEN when they ask for USER.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, type Role } from '../src/auth/keys.js';
import { ownDatabase, uid } from './helpers.js';
import { liveGateway, postAs, sseSubscribe, until, wsClient, wsSubscribe, type LiveGateway, type Stream } from './live-helpers.js';

const FLIPS = `subscription($scopes: [PolicyScope!], $after: String) { policyFlipped(scopes: $scopes, after: $after) {
  cursor flag { scope target reason } } }`;
const SET = `mutation($s: PolicyScope!, $t: ID!, $k: PolicyKind!, $r: String) { setPolicyFlag(scope: $s, target: $t, kind: $k, active: true, reason: $r) { active } }`;

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
const keys = {} as Record<Role, string>;
const p = uid('uflags');

beforeAll(async () => {
  db = await ownDatabase();
  gw = await liveGateway({}, db.url);
  for (const role of ['subscriber', 'writer', 'admin'] as const) keys[role] = (await createKey(gw.sql, role, role)).key;
  await gw.keys.reload();
});
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

const bearer = (role: Role) => `Bearer ${keys[role]}`;
const write = async (scope: string, target: string, reason: string) =>
  expect((await postAs(gw.url, { authorization: bearer('writer') }, SET, { s: scope, t: target, k: scope === 'USER' ? 'FRAUD' : 'QUALITY_HOLD', r: reason })).body.errors).toBeUndefined();
const scopesOf = (s: Stream<any>) => s.items.map((i) => i.policyFlipped.flag.scope);

describe('USER-scope flips reach admin keys only', () => {
  it('live and on replay, over graphql-ws and SSE', async () => {
    const head = (await postAs(gw.url, { authorization: bearer('admin') }, '{ decisionContext(userId: "x", candidates: []) { snapshot { cursor } } }'))
      .body.data.decisionContext.snapshot.cursor;
    const base = gw.hub.subscriberCount;
    const clients = (['subscriber', 'admin'] as const).map((r) => wsClient(gw.wsUrl, { authorization: bearer(r) }));
    const ws = clients.map((c) => wsSubscribe(c, FLIPS));
    const sse = (['subscriber', 'admin'] as const).map((r) => sseSubscribe(gw.url, FLIPS, {}, { authorization: bearer(r) }));
    await until(() => gw.hub.subscriberCount === base + 4);
    await write('USER', `${p}-mallory`, 'stolen card ending 4242');
    await write('SKU', `${p}-sku`, 'supplier recall');
    for (const s of [ws[0]!, sse[0]!]) {
      await s.waitFor(1);
      await until(() => ws[1]!.items.length >= 2 && sse[1]!.items.length >= 2);
      expect(scopesOf(s)).toEqual(['SKU']);
      expect(JSON.stringify(s.items)).not.toMatch(/4242|mallory/);
    }
    for (const s of [ws[1]!, sse[1]!]) expect(scopesOf(s)).toEqual(['USER', 'SKU']);
    // Replay from before both writes: the same split.
    const replays = clients.map((c) => wsSubscribe(c, FLIPS, { after: head }));
    await replays[1]!.waitFor(2);
    await replays[0]!.waitFor(1);
    expect(scopesOf(replays[0]!)).toEqual(['SKU']);
    expect(scopesOf(replays[1]!)).toEqual(['USER', 'SKU']);
    for (const s of [...ws, ...sse, ...replays]) s.close();
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('a non-admin key that asks for USER gets FORBIDDEN', async () => {
    const client = wsClient(gw.wsUrl, { authorization: bearer('subscriber') });
    const s = wsSubscribe(client, FLIPS, { scopes: ['USER', 'SKU'] });
    await s.done;
    expect(JSON.stringify(s.errors)).toContain('FORBIDDEN');
    await client.dispose();
  });
});

describe('subscriptions per key', () => {
  it('are bounded across SSE and graphql-ws together (MAX_SUBSCRIPTIONS_PER_KEY), per key', async () => {
    const bounded = await liveGateway({ maxSubscriptionsPerKey: 3 }, db.url);
    const base = bounded.hub.subscriberCount;
    const sse = [0, 1].map(() => sseSubscribe(bounded.url, FLIPS, {}, { authorization: bearer('subscriber') }));
    const client = wsClient(bounded.wsUrl, { authorization: bearer('subscriber') });
    const first = wsSubscribe(client, FLIPS);
    await until(() => bounded.hub.subscriberCount === base + 3);
    const refused = wsSubscribe(client, FLIPS);
    await refused.done;
    expect(JSON.stringify(refused.errors)).toMatch(/LIMIT_EXCEEDED.*MAX_SUBSCRIPTIONS_PER_KEY|MAX_SUBSCRIPTIONS_PER_KEY.*LIMIT_EXCEEDED/);
    const admin = wsClient(bounded.wsUrl, { authorization: bearer('admin') }); // another key has its own count
    const other = wsSubscribe(admin, FLIPS);
    await until(() => bounded.hub.subscriberCount === base + 4);
    first.close(); // a freed place can be taken again
    await until(() => bounded.hub.subscriberCount === base + 3);
    const again = wsSubscribe(client, FLIPS);
    await until(() => bounded.hub.subscriberCount === base + 4);
    for (const s of [...sse, again, other]) s.close();
    await Promise.all([client.dispose(), admin.dispose()]);
    await bounded.stop();
  });
});

describe('USER-scope flags in decisions', () => {
  it('show a flagged user\'s flags to a reader without their free-text reason; admin keys see it', async () => {
    const reader = (await createKey(gw.sql, ['reader', 'merchandiser'], 'reads')).key;
    await gw.keys.reload();
    await write('USER', `${p}-eve`, 'chargeback pattern');
    const ask = async (key: string) => (await postAs(gw.url, { authorization: `Bearer ${key}` },
      `{ decisionContext(userId: "${p}-eve", candidates: []) { user { flags { kind target reason } } } }`)).body.data.decisionContext.user.flags;
    expect(await ask(reader)).toEqual([{ kind: 'FRAUD', target: `${p}-eve`, reason: null }]);
    expect(await ask(keys.admin)).toEqual([{ kind: 'FRAUD', target: `${p}-eve`, reason: 'chargeback pattern' }]);
  });
});
