// graphql-ws bounds: a bad operation fails alone, frames and operations per
// socket are bounded, sockets per key are bounded, and none of it hurts the
// other sockets. Own databases: the per-key part needs keys (auth on).
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKey } from '../src/auth/keys.js';
import { loadConfig } from '../src/config.js';
import { DECISION, ownDatabase } from './helpers.js';
import { liveGateway, post, until, wsClient, type LiveGateway } from './live-helpers.js';
import WebSocket from 'ws';
import { rawSocket, within } from './raw-clients.js';

const SUB = 'subscription { inventoryChanged(skus: ["lim-a"]) { sku available } }';
const setStock = (gw: LiveGateway, n: number) => post(gw.url, `mutation { setInventory(sku: "lim-a", available: ${n}) { available } }`);

describe('settings', () => {
  it('default to 1 MiB frames, 100 operations per socket, 50 sockets per key', () => {
    const c = loadConfig({});
    expect([c.wsMaxPayloadBytes, c.wsMaxSubscriptions, c.wsMaxSocketsPerKey]).toEqual([1024 * 1024, 100, 50]);
    const set = loadConfig({ WS_MAX_PAYLOAD_BYTES: '2048', WS_MAX_SUBSCRIPTIONS: '7', WS_MAX_SOCKETS_PER_KEY: '3' });
    expect([set.wsMaxPayloadBytes, set.wsMaxSubscriptions, set.wsMaxSocketsPerKey]).toEqual([2048, 7, 3]);
  });
});

describe('auth off (no keys)', () => {
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let gw: LiveGateway;
  beforeAll(async () => {
    db = await ownDatabase();
    gw = await liveGateway({ wsMaxSubscriptions: 3, wsMaxSocketsPerKey: 2 }, db.url);
    const seeded = await post(gw.url, `mutation { upsertItems(items: [{ sku: "lim-a", title: "A", category: "c", priceMinor: 100, currency: "EUR", available: 5 }]) { count } }`);
    expect(seeded.errors).toBeUndefined();
  });
  afterAll(async () => {
    await gw.stop();
    await db.drop();
  });

  it('a syntax error or a document refused at parse fails only that operation; the other subscriptions keep receiving', async () => {
    const s = await rawSocket(gw.wsUrl);
    await s.init();
    const base = gw.hub.subscriberCount;
    s.subscribe('a', SUB);
    s.subscribe('b', SUB);
    await until(() => gw.hub.subscriberCount === base + 2);

    s.subscribe('broken', 'subscription { inventoryChanged(skus: ["lim-a"]) { sku ');
    const broken = await s.waitFor((m) => m.id === 'broken' && m.type === 'error');
    const tokens = `subscription { inventoryChanged(skus: [${Array.from({ length: 5000 }, (_, i) => `"s${i}"`).join(',')}]) { sku } }`;
    s.subscribe('huge', tokens);
    const huge = await s.waitFor((m) => m.id === 'huge' && m.type === 'error');
    expect(broken.payload[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(huge.payload[0].message).toMatch(/token/i);
    // Nested deeper than graphql-js can recurse: refused before parsing, for that id only.
    s.subscribe('deep', `{ decisionContext(userId: "u", candidates: ${'['.repeat(3000)}"a"${']'.repeat(3000)}) { snapshot { id } } }`);
    const deep = await s.waitFor((m) => m.id === 'deep' && m.type === 'error');
    expect(deep.payload[0].message).toMatch(/levels deep/);

    await setStock(gw, 11);
    const [a] = await s.nexts('a', 1);
    const [b] = await s.nexts('b', 1);
    expect(a.payload.data.inventoryChanged).toEqual({ sku: 'lim-a', available: 11 });
    expect(b.payload.data.inventoryChanged).toEqual({ sku: 'lim-a', available: 11 });
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    s.close();
    await until(() => gw.hub.subscriberCount === base);
  });

  it('an oversized frame closes that socket with 1009, before or after connection_init; the gateway stays healthy', async () => {
    const bystander = await rawSocket(gw.wsUrl);
    await bystander.init();
    bystander.subscribe('a', SUB);
    await until(() => gw.hub.subscriberCount >= 1);

    const early = await rawSocket(gw.wsUrl);
    early.send({ type: 'connection_init', payload: { junk: 'x'.repeat(2 * 1024 * 1024) } });
    expect((await within(early.closed, 5000, 'close')).code).toBe(1009);

    const late = await rawSocket(gw.wsUrl);
    await late.init();
    late.subscribe('big', `{ __typename ${' '.repeat(1024 * 1024)} }`);
    expect((await within(late.closed, 5000, 'close')).code).toBe(1009);

    await setStock(gw, 12);
    expect((await bystander.nexts('a', 1))[0].payload.data.inventoryChanged.available).toBe(12);
    expect((await fetch(gw.url.replace('/graphql', '/health'))).status).toBe(200);
    const client = wsClient(gw.wsUrl);
    expect(await client.iterate({ query: '{ __typename }' }).next()).toMatchObject({ value: { data: { __typename: 'Query' } } });
    await client.dispose();
    bystander.close();
  });

  it('a full decisionContext with 1,000 inline candidates still fits in one frame', async () => {
    const inline = Array.from({ length: 1000 }, (_, i) => `"lim-${i % 3 ? 'a' : `candidate-${i}`}"`).join(', ');
    const query = DECISION.replace('query($u: ID!, $s: ID, $c: [ID!]!, $r: String)', 'query($u: ID!, $s: ID, $r: String)')
      .replace('candidates: $c', `candidates: [${inline}]`);
    const s = await rawSocket(gw.wsUrl);
    await s.init();
    s.subscribe('d', query, { u: 'u', r: 'nowhere' });
    const [res] = await s.nexts('d', 1, 20_000);
    expect(res.payload.errors).toBeUndefined();
    expect(res.payload.data.decisionContext.candidates).toHaveLength(1000);
    s.close();
  });

  it('past WS_MAX_SUBSCRIPTIONS the next subscribe gets LIMIT_EXCEEDED for its id; the socket and the others stay', async () => {
    const s = await rawSocket(gw.wsUrl);
    await s.init();
    const base = gw.hub.subscriberCount;
    for (const id of ['1', '2', '3']) s.subscribe(id, SUB);
    await until(() => gw.hub.subscriberCount === base + 3);
    s.subscribe('4', SUB);
    const refused = await s.waitFor((m) => m.id === '4' && m.type === 'error');
    expect(refused.payload[0].extensions.code).toBe('LIMIT_EXCEEDED');
    expect(refused.payload[0].message).toMatch(/3/);
    expect(gw.hub.subscriberCount).toBe(base + 3);

    s.complete('1'); // frees a slot
    await until(() => gw.hub.subscriberCount === base + 2);
    s.subscribe('5', SUB);
    await until(() => gw.hub.subscriberCount === base + 3);
    await setStock(gw, 13);
    for (const id of ['2', '3', '5']) expect((await s.nexts(id, 1))[0].payload.data.inventoryChanged.available).toBe(13);
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    s.close();
    await until(() => gw.hub.subscriberCount === base);
  });

  it('a client sending next, error or connection_ack gets a clean 4400, with nothing on the console', async () => {
    const consoleError = vi.spyOn(console, 'error');
    for (const frame of [
      { id: 'n', type: 'next', payload: { data: { x: 1 } } },
      { id: 'e', type: 'error', payload: [{ message: 'boom' }] },
      { type: 'connection_ack' },
    ]) {
      const s = await rawSocket(gw.wsUrl);
      await s.init();
      s.send(frame);
      const closed = await within(s.closed, 5000, 'close');
      expect([closed.code, closed.reason], frame.type).toEqual([4400, `Invalid message received: ${frame.type} is sent by servers only`]);
    }
    expect(consoleError).not.toHaveBeenCalled();
  });

  it('a socket without the graphql-transport-ws subprotocol is closed with 4406', async () => {
    const ws = new WebSocket(gw.wsUrl);
    ws.on('error', () => {});
    const closed = await within(new Promise<number>((resolve) => ws.on('close', resolve)), 5000, 'close');
    expect(closed).toBe(4406);
  });

  it('with auth off any connectionParams are let in, even an authorization that cannot be made a string', async () => {
    const consoleError = vi.spyOn(console, 'error');
    const s = await rawSocket(gw.wsUrl);
    await s.init({ authorization: { toString: 1 } });
    s.close();
    expect(consoleError).not.toHaveBeenCalled();
  });

  it('with auth off there is no key, so no per-key socket bound', async () => {
    const sockets = await Promise.all([1, 2, 3].map(() => rawSocket(gw.wsUrl)));
    for (const s of sockets) await s.init(); // WS_MAX_SOCKETS_PER_KEY is 2 here
    for (const s of sockets) s.close();
  });
});

afterEach(() => { vi.restoreAllMocks(); });

describe('auth on', () => {
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let gw: LiveGateway;
  const keys: string[] = [];
  beforeAll(async () => {
    db = await ownDatabase();
    gw = await liveGateway({ wsMaxSocketsPerKey: 2 }, db.url);
    for (const name of ['one', 'two']) keys.push((await createKey(gw.sql, 'subscriber', name)).key);
    await gw.keys.reload();
  });
  afterAll(async () => {
    await gw.stop();
    await db.drop();
  });

  it('past WS_MAX_SOCKETS_PER_KEY the new socket closes with 4429 naming the limit; other keys and freed slots are fine', async () => {
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const first = await rawSocket(gw.wsUrl);
    await first.init(as(keys[0]!));
    const second = await rawSocket(gw.wsUrl);
    await second.init(as(keys[0]!));
    const third = await rawSocket(gw.wsUrl);
    await expect(third.init(as(keys[0]!))).rejects.toThrow(/socket closed/);
    const closed = await third.closed;
    expect(closed.code).toBe(4429);
    expect(closed.reason).toMatch(/WS_MAX_SOCKETS_PER_KEY/);

    const other = await rawSocket(gw.wsUrl);
    await other.init(as(keys[1]!));

    first.close();
    await first.closed;
    await until(async () => {
      const again = await rawSocket(gw.wsUrl);
      const ok = await again.init(as(keys[0]!)).then(() => true, () => false);
      again.close();
      return ok;
    });
    for (const s of [second, other]) s.close();
  });

  it('an authorization that is not a string is no key: 4401, whatever it holds, with nothing on the console', async () => {
    const consoleError = vi.spyOn(console, 'error');
    for (const authorization of [{ toString: 1 }, { toString: 'x' }, [`Bearer ${keys[1]}`], 42, true, {}]) {
      const s = await rawSocket(gw.wsUrl);
      await expect(s.init({ authorization })).rejects.toThrow(/socket closed/);
      const closed = await s.closed;
      expect([closed.code, closed.reason], JSON.stringify(authorization)).toEqual([4401, 'invalid or revoked API key']);
    }
    const none = await rawSocket(gw.wsUrl);
    await expect(none.init({ authorization: null })).rejects.toThrow(/socket closed/);
    expect((await none.closed).reason).toBe('missing API key');
    const ok = await rawSocket(gw.wsUrl);
    await ok.init({ Authorization: `Bearer ${keys[1]}` });
    ok.close();
    expect(consoleError).not.toHaveBeenCalled();
  });
});
