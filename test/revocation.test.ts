// Revoking a key reaches what is already open, within about a second: SSE
// streams end with UNAUTHENTICATED, graphql-ws sockets close with 4401, and
// nothing sent over an old socket after the revocation runs. Own database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, revokeKey } from '../src/auth/keys.js';
import { ownDatabase } from './helpers.js';
import { liveGateway, postAs, until, type LiveGateway } from './live-helpers.js';
import { rawSocket, sseAs, within } from './raw-clients.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
let admin: string;
const SUB = 'subscription { inventoryChanged(skus: ["rev-a"]) { sku available } }';
const stock = async () => (await gw.sql<{ available: number }[]>`select available from inventory where sku = 'rev-a'`)[0]?.available;

beforeAll(async () => {
  db = await ownDatabase();
  gw = await liveGateway({}, db.url);
  admin = (await createKey(gw.sql, 'admin', 'revocation admin')).key;
  await gw.keys.reload();
  const seeded = await postAs(gw.url, { authorization: `Bearer ${admin}` },
    `mutation { upsertItems(items: [{ sku: "rev-a", title: "A", category: "c", priceMinor: 100, currency: "EUR", available: 5 }]) { count } }`);
  expect(seeded.body.errors).toBeUndefined();
});
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

async function freshKey(role: 'subscriber' | 'writer' | 'admin') {
  const k = await createKey(gw.sql, role, `revocation ${role}`);
  await until(() => gw.keys.verify(k.key) !== null);
  return k;
}

describe('revocation reaches open connections', () => {
  it('SSE: the open stream ends with UNAUTHENTICATED within a second and releases its hub subscriber', async () => {
    const { id, key } = await freshKey('subscriber');
    const base = gw.hub.subscriberCount;
    const stream = sseAs(gw.url, { authorization: `Bearer ${key}` }, SUB);
    expect(await stream.status).toBe(200);
    await until(() => gw.hub.subscriberCount === base + 1);

    const revokedAt = Date.now();
    await revokeKey(gw.sql, id);
    const endedAt = await within(stream.ended, 5000, 'the SSE stream ending');
    expect(endedAt - revokedAt).toBeLessThan(1500);
    expect(stream.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(stream.errors[0].message).toMatch(/revoked/i);
    await until(() => gw.hub.subscriberCount === base, 2000);
  });

  it('graphql-ws: the key\'s sockets close with 4401 "API key revoked" within a second; other keys\' sockets stay', async () => {
    const { id, key } = await freshKey('subscriber');
    const other = await freshKey('subscriber');
    const base = gw.hub.subscriberCount;
    const sockets = await Promise.all([key, key, other.key].map(() => rawSocket(gw.wsUrl)));
    await Promise.all(sockets.map((s, i) => s.init({ authorization: `Bearer ${i < 2 ? key : other.key}` })));
    sockets.forEach((s) => s.subscribe('s', SUB));
    await until(() => gw.hub.subscriberCount === base + 3);

    const revokedAt = Date.now();
    await revokeKey(gw.sql, id);
    for (const s of sockets.slice(0, 2)) {
      const closed = await within(s.closed, 5000, 'the socket closing');
      expect(closed).toMatchObject({ code: 4401, reason: 'API key revoked' });
      expect(closed.at - revokedAt).toBeLessThan(1500);
    }
    await until(() => gw.hub.subscriberCount === base + 1, 2000);
    expect(sockets[2]!.ws.readyState).toBe(sockets[2]!.ws.OPEN);

    // And the key cannot come back on a new socket.
    const again = await rawSocket(gw.wsUrl);
    await expect(again.init({ authorization: `Bearer ${key}` })).rejects.toThrow(/4401/);
    sockets[2]!.close();
  });

  it('graphql-ws: a mutation sent over a socket opened before the revocation is refused and writes nothing', async () => {
    const { id, key } = await freshKey('writer');
    const s = await rawSocket(gw.wsUrl);
    await s.init({ authorization: `Bearer ${key}` });
    const set7 = await postAs(gw.url, { authorization: `Bearer ${key}` }, 'mutation { setInventory(sku: "rev-a", available: 7) { available } }');
    expect(set7.body.data.setInventory.available).toBe(7);

    await revokeKey(gw.sql, id);
    await until(() => gw.keys.verify(key) === null);
    // The socket was opened with a valid key; whatever it sends from now on must not run.
    if (s.ws.readyState === s.ws.OPEN) s.subscribe('w2', 'mutation { setInventory(sku: "rev-a", available: 99) { available } }');
    const outcome = await within(Promise.race([
      s.closed.then((c) => `closed ${c.code}`),
      s.waitFor((m) => m.id === 'w2', 5000).then((m) => JSON.stringify(m)),
    ]), 5000, 'a refusal');
    expect(outcome).toMatch(/closed 4401|UNAUTHENTICATED/);
    expect(await stock()).toBe(7);
  });

  it('a revocation whose NOTIFY is missed still reaches open sockets and streams within about a second', async () => {
    const { id, key } = await freshKey('subscriber');
    const base = gw.hub.subscriberCount;
    const stream = sseAs(gw.url, { authorization: `Bearer ${key}` }, SUB);
    const s = await rawSocket(gw.wsUrl);
    await s.init({ authorization: `Bearer ${key}` });
    s.subscribe('s', SUB);
    await until(() => gw.hub.subscriberCount === base + 2);

    const revokedAt = Date.now();
    await gw.sql`update api_keys set revoked_at = now() where id = ${id}`; // no pg_notify
    const closed = await within(s.closed, 5000, 'the socket closing');
    expect(closed.code).toBe(4401);
    expect(closed.at - revokedAt).toBeLessThan(2500);
    await within(stream.ended, 5000, 'the SSE stream ending');
    expect(stream.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    await until(() => gw.hub.subscriberCount === base, 2000);
  });
});
