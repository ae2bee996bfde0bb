// A subscription nothing can read any more must leave the hub: each one holds a
// place in MAX_SUBSCRIPTIONS_PER_KEY and buffers up to LIVE_BUFFER_LIMIT events
// (with auth off, without any bound). The property checked throughout: once the
// client is gone, or was refused, hub.subscriberCount is back where it started.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items, ownDatabase, uid } from './helpers.js';
import { liveGateway, post, sleep, sseSubscribe, until, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';
import { rawSocket, sseEvents } from './raw-clients.js';

const INVENTORY = 'subscription { inventoryChanged { cursor } }';
const POLICY = 'subscription { policyFlipped { cursor } }';
const INVENTORY_AFTER = 'subscription($skus: [ID!], $after: String) { inventoryChanged(skus: $skus, after: $after) { cursor } }';
const UPSERT = 'mutation($items: [ItemInput!]!) { upsertItems(items: $items) { count } }';

let gw: LiveGateway;
beforeAll(async () => { gw = await liveGateway(); });
afterAll(() => gw.stop());

/** Waits (a while) for the hub to be back at `base`, then asserts it, so a leak fails with the count. */
async function backTo(base: number, ms = 3000) {
  await until(() => gw.hub.subscriberCount === base, ms).catch(() => {});
  expect(gw.hub.subscriberCount).toBe(base);
}

describe('graphql-ws', () => {
  it('subscribe a, complete a, subscribe a back to back: the reuse is refused for its id, nothing is left behind', async () => {
    for (let round = 0; round < 5; round++) {
      const base = gw.hub.subscriberCount;
      const s = await rawSocket(gw.wsUrl);
      await s.init();
      s.subscribe('a', INVENTORY);
      s.complete('a');
      s.subscribe('a', INVENTORY);
      // Fixed: an error for the second "a". Unfixed: both subscriptions registered.
      await until(() => s.messages.some((m) => m.id === 'a' && m.type === 'error') || gw.hub.subscriberCount >= base + 2);
      await sleep(300); // the first setup has finished by now
      expect(gw.hub.subscriberCount).toBe(base); // the completed one was ended, not left running unseen
      const refused = s.messages.find((m) => m.id === 'a' && m.type === 'error');
      expect(refused?.payload[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(refused?.payload[0].message).toMatch(/"a".*still being set up/);
      expect(s.messages.filter((m) => m.id === 'a' && m.type !== 'error')).toEqual([]);
      expect(s.ws.readyState).toBe(s.ws.OPEN);

      // Once its setup is over, the id is free again.
      s.subscribe('a', INVENTORY);
      await until(() => gw.hub.subscriberCount === base + 1);
      s.close();
      await s.closed;
      await backTo(base);
    }
  });

  it('a subscription completed, or its socket closed, while it is still being set up is ended', async () => {
    const base = gw.hub.subscriberCount;
    const completed = await rawSocket(gw.wsUrl);
    await completed.init();
    for (const id of ['1', '2', '3']) { completed.subscribe(id, INVENTORY); completed.complete(id); }
    await sleep(300);
    expect(gw.hub.subscriberCount).toBe(base);
    expect(completed.messages.filter((m) => m.id)).toEqual([]);
    completed.close();

    const closed = await rawSocket(gw.wsUrl);
    await closed.init();
    for (const id of ['1', '2', '3']) closed.subscribe(id, POLICY);
    closed.close();
    await closed.closed;
    await sleep(300);
    await backTo(base);
  });

  it('every subscription of a socket ends when the socket closes, also ones refused or reused', async () => {
    const base = gw.hub.subscriberCount;
    const sockets = await Promise.all([1, 2, 3].map(() => rawSocket(gw.wsUrl)));
    for (const s of sockets) {
      await s.init();
      for (const id of ['x', 'y']) s.subscribe(id, INVENTORY);
      s.complete('x');
      s.subscribe('x', POLICY);
      s.subscribe('z', POLICY);
    }
    await sleep(300);
    for (const s of sockets) s.ws.terminate(); // no close frame: the TCP connection just goes
    await backTo(base);
  });
});

describe('SSE', () => {
  const sse = (accept: string, body: unknown, signal?: AbortSignal) => fetch(gw.url, {
    method: 'POST', signal, headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body),
  });

  it('subscriptions in a batch are refused with BAD_USER_INPUT, and none is registered', async () => {
    const base = gw.hub.subscriberCount;
    const res = await sse('text/event-stream', [{ query: INVENTORY }, { query: POLICY }]);
    const events = [];
    for await (const e of sseEvents(res)) events.push(e);
    await backTo(base);
    const next = events.find((e) => e.event === 'next');
    const results = JSON.parse(next!.data) as any[];
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(r.errors[0].message).toMatch(/not in a batch/);
    }
  });

  it('a batch with one subscription among queries: the queries are answered, the subscription refused', async () => {
    const base = gw.hub.subscriberCount;
    const res = await sse('text/event-stream', [{ query: '{ __typename }' }, { query: INVENTORY }]);
    const events = [];
    for await (const e of sseEvents(res)) events.push(e);
    await backTo(base);
    const [query, sub] = JSON.parse(events.find((e) => e.event === 'next')!.data) as any[];
    expect(query.data.__typename).toBe('Query');
    expect(sub.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('Accept is read as media types: text/event-streamx is not SSE (406, nothing registered)', async () => {
    const base = gw.hub.subscriberCount;
    const res = await sse('text/event-streamx', { query: INVENTORY });
    expect(res.status).toBe(406);
    await res.text();
    await backTo(base);
  });

  it('Accept is read as media types: case, parameters and lists are fine', async () => {
    for (const accept of ['TEXT/EVENT-STREAM', 'text/event-stream; charset=utf-8', 'application/json, Text/Event-Stream;q=0.9']) {
      const base = gw.hub.subscriberCount;
      const abort = new AbortController();
      const res = await sse(accept, { query: INVENTORY }, abort.signal);
      expect(res.status, accept).toBe(200);
      expect(res.headers.get('content-type'), accept).toMatch(/^text\/event-stream/);
      await until(() => gw.hub.subscriberCount === base + 1);
      abort.abort();
      await backTo(base);
    }
  });

  it('a subscription yoga would not serve as SSE (a charset other than utf-8) is ended, not left registered', async () => {
    const base = gw.hub.subscriberCount;
    const res = await sse('text/event-stream; charset=latin1', { query: INVENTORY });
    expect(res.status).toBe(406);
    await res.text();
    await backTo(base);
  });
});

describe('a replay whose read fails (its backend killed mid-read, as in a failover)', () => {
  for (const transport of ['graphql-ws', 'SSE'] as const) {
    it(`${transport}: ends with UNAVAILABLE and its last cursor, and leaves the hub (its key's place is free again)`, async () => {
      // A database of its own: the test locks its change log.
      const db = await ownDatabase();
      const g = await liveGateway({ livePollMs: 3_600_000, maxSubscriptionsPerKey: 1 }, db.url);
      const client = wsClient(g.wsUrl);
      try {
        const p = uid('replayfail');
        await post(g.url, UPSERT, { items: items(p, { a: {} }) });
        await until(() => g.hub.dispatchedThrough > 0); // so a subscription from cursor 0 replays from the log
        // The replay queues behind a held turn of the replay gate; meanwhile its table is locked, so its
        // statement waits on the lock, where it is killed.
        let release!: () => void;
        const held = g.hub.replayGate.run(null, () => new Promise<void>((r) => { release = r; }));
        const vars = { skus: [`${p}-a`], after: '0' };
        const s = transport === 'SSE' ? sseSubscribe(g.url, INVENTORY_AFTER, vars) : wsSubscribe(client, INVENTORY_AFTER, vars);
        await until(() => g.hub.subscriberCount === 1);
        await db.sql.begin(async (tx) => {
          await tx`lock table change_log in access exclusive mode`;
          release();
          // On another connection than the lock's (the test's own pool may have only that one).
          const waiting = () => g.writeSql`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
          await until(async () => (await waiting()).length > 0);
          await g.writeSql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
        });
        await held;
        await Promise.race([s.done, sleep(5000)]);
        const errors = JSON.stringify(s.errors);
        expect(errors).toContain('"code":"UNAVAILABLE"');
        expect(errors).toContain('"lastCursor":"0"'); // nothing delivered yet: resume from where it asked
        s.close();
        await until(() => g.hub.subscriberCount === 0).catch(() => {});
        expect(g.hub.subscriberCount).toBe(0);
      } finally {
        await client.dispose();
        await g.stop();
        await db.drop();
      }
    });
  }
});

it('a subscribe that races the hub\'s stop is refused, not left registered and never ended', async () => {
  const g = await liveGateway({ livePollMs: 3_600_000 });
  try {
    // stop() runs during the subscribe's first await.
    const outcome = g.hub.subscribe({ topic: 'inventory', keys: null }, null).then(() => 'registered', (e: unknown) => e);
    await g.hub.stop();
    expect(await outcome).toMatchObject({ extensions: { code: 'UNAVAILABLE' } });
    expect(g.hub.subscriberCount).toBe(0);
  } finally {
    await g.stop();
  }
});
