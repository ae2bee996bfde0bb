// A subscription nothing can read any more must leave the hub: each one holds a
// place in MAX_SUBSCRIPTIONS_PER_KEY and buffers up to LIVE_BUFFER_LIMIT events
// (with auth off, without any bound). The property checked throughout: once the
// client is gone, or was refused, hub.subscriberCount is back where it started.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveGateway, sleep, until, type LiveGateway } from './live-helpers.js';
import { rawSocket } from './raw-clients.js';

const INVENTORY = 'subscription { inventoryChanged { cursor } }';
const POLICY = 'subscription { policyFlipped { cursor } }';

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
