// The feed under faults: overlapping transactions, a killed LISTEN connection,
// a stalled client, and a second gateway on the same database.
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WS from 'ws';
import type WebSocket from 'ws';
import { appendChanges, type Change } from '../src/live/changelog.js';
import { freePort } from './global-setup.js';
import { items, ownDatabase, uid } from './helpers.js';
import { liveGateway, post, sleep, until, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';

const INV = `subscription($skus: [ID!], $after: String) { inventoryChanged(skus: $skus, after: $after) { cursor sku available } }`;
const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { count } }`;
const SET = `mutation($sku: ID!, $n: Int!) { setInventory(sku: $sku, available: $n) { available } }`;
const p = uid('faults');
const sku = (n: string) => `${p}-${n}`;
let gw: LiveGateway;
// A database of its own: one test here appends changes without the commit-order
// lock, which would break the cursor invariant other files check concurrently.
let db: Awaited<ReturnType<typeof ownDatabase>>;

beforeAll(async () => {
  db = await ownDatabase();
  // A long safety-net poll: recovery in these tests must come from NOTIFY and onlisten.
  gw = await liveGateway({ livePollMs: 3_600_000 }, db.url);
  await post(gw.url, UPSERT, { items: items(p, { a: { available: 1000 }, b: { available: 1000 } }) });
});
afterEach(() => until(() => gw.hub.subscriberCount === 0, 10_000));
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

const change = (k: string, available: number): Change => ({ topic: 'inventory', key: k, payload: { sku: k, available, previous: null } });

/** T1 appends and stays open; T2 appends and commits; then T1 commits. Returns what a subscriber saw. */
async function overlappingWriters(skipCommitOrderLock: boolean, k: string) {
  const client = wsClient(gw.wsUrl);
  const s = wsSubscribe(client, INV, { skus: [k] });
  await until(() => gw.hub.subscriberCount === 1, 10_000);
  let releaseT1!: () => void;
  const t1Hold = new Promise<void>((r) => { releaseT1 = r; });
  let t1Appended!: () => void;
  const t1Ready = new Promise<void>((r) => { t1Appended = r; });
  const t1 = gw.sql.begin(async (tx) => {
    await appendChanges(tx, [change(k, 1)], { skipCommitOrderLock });
    t1Appended();
    await t1Hold;
  });
  await t1Ready;
  const t2 = gw.sql.begin((tx) => appendChanges(tx, [change(k, 2)], { skipCommitOrderLock }));
  await sleep(300); // T2 commits now if nothing orders it behind T1; the follower reads it
  releaseT1();
  await Promise.all([t1, t2]);
  gw.hub.poke();
  await sleep(500);
  s.close();
  await client.dispose();
  return s.items.map((x: any) => x.inventoryChanged.available);
}

describe('commit order', () => {
  it('delivers overlapping transactions in commit order, none lost', async () => {
    expect(await overlappingWriters(false, sku('order-ok'))).toEqual([1, 2]);
  });

  it('loses a change when seq order is not commit order (the lock is what prevents it)', async () => {
    expect(await overlappingWriters(true, sku('order-broken'))).toEqual([2]);
  });
});

describe('LISTEN connection lost', () => {
  it('reconnects and re-reads the log from the last cursor: no gap, no duplicate', async () => {
    const client = wsClient(gw.wsUrl);
    const s = wsSubscribe(client, INV, { skus: [sku('a')] });
    await until(() => gw.hub.subscriberCount > 0, 10_000);
    const writer = (async () => {
      for (let n = 999; n >= 940; n--) {
        await post(gw.url, SET, { sku: sku('a'), n });
        if (n % 20 === 0) await sleep(30);
      }
    })();
    await until(() => s.items.length >= 10, 10_000);
    const killed = await gw.sql`select pg_terminate_backend(pid) as ok from pg_stat_activity
      where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`;
    expect(killed.length).toBeGreaterThan(0);
    await writer;
    const got = (await s.waitFor(60, 20_000)).map((x: any) => x.inventoryChanged.available);
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => 999 - i));
    await sleep(300);
    expect(s.items).toHaveLength(60);
    s.close();
    await client.dispose();
  });
});

describe('listener lost for good', () => {
  it('is noticed through NOTIFY pings and re-established without losing a change', async () => {
    const k = sku('relisten');
    await post(gw.url, UPSERT, { items: items(p, { relisten: { available: 10 } }) });
    const client = wsClient(gw.wsUrl);
    const s = wsSubscribe(client, INV, { skus: [k] });
    await until(() => gw.hub.subscriberCount === 1, 10_000);
    // Drop the LISTEN out from under the hub, as postgres.js does when re-listening after a lost connection fails.
    await (gw.hub as unknown as { unlisten(): Promise<void> }).unlisten();
    await post(gw.url, SET, { sku: k, n: 9 });
    // With no polling, this arrives only once the missing pings got the hub to listen again (≈ 5 s).
    expect((await s.waitFor(1, 15_000)).map((x: any) => x.inventoryChanged.available)).toEqual([9]);
    await post(gw.url, SET, { sku: k, n: 8 });
    const got = (await s.waitFor(2, 5_000)).map((x: any) => x.inventoryChanged.available);
    expect(got).toEqual([9, 8]);
    expect((await fetch(gw.url.replace('/graphql', '/ready'))).status).toBe(200);
    s.close();
    await client.dispose();
  }, 40_000);
});

describe('slow consumers', () => {
  it('end with SLOW_CONSUMER and the last delivered cursor, from which the client resumes with no gap', async () => {
    const small = await liveGateway({ liveBufferLimit: 1000, livePollMs: 3_600_000 });
    let socket: WebSocket | undefined;
    const client = createClient({
      url: small.wsUrl, webSocketImpl: WS, retryAttempts: 0,
      on: { connected: (s) => { socket = s as WebSocket; } },
    });
    const flooded = sku('flood');
    const s = wsSubscribe(client, INV, { skus: [flooded] });
    await until(() => small.hub.subscriberCount === 1, 10_000);
    // Stop reading the socket: once the kernel buffers are full the server's sends
    // back up, and the subscriber's bounded buffer overflows.
    (socket as any)._socket.pause();
    // A flood of committed changes (written straight to the log, 50,000 per transaction).
    for (let round = 0; round < 8 && small.hub.subscriberCount > 0; round++) {
      const flood = Array.from({ length: 50_000 }, (_, i) => change(flooded, round * 50_000 + i));
      await small.sql.begin((tx) => appendChanges(tx, flood));
      await sleep(300);
    }
    expect(small.hub.subscriberCount).toBe(0);
    (socket as any)._socket.resume();
    await s.done;
    const errors = JSON.stringify(s.errors);
    expect(errors).toContain('SLOW_CONSUMER');
    const lastCursor = /"lastCursor":"(\d+)"/.exec(errors)![1]!;
    const delivered = s.items.map((x: any) => x.inventoryChanged);
    if (delivered.length) expect(delivered.at(-1).cursor).toBe(lastCursor);

    // Resuming from that cursor picks up exactly at the next committed change. First let the follower dispatch the
    // whole flood: the resumer then replays it from the log, paced by its reads, instead of meeting what is still
    // being dispatched live with a full backlog ahead of it (on a loaded box that overflowed its 1,000 at once).
    const [log] = await small.sql<{ head: string }[]>`select max(seq)::text as head from change_log`;
    await until(() => small.hub.dispatchedThrough >= Number(log!.head), 60_000);
    const [next] = await small.sql<{ seq: string }[]>`
      select seq::text as seq from change_log c where key = ${flooded} and c.seq > ${Number(lastCursor)} order by c.seq limit 1`;
    const resumedClient = wsClient(small.wsUrl);
    const resumed = wsSubscribe(resumedClient, INV, { skus: [flooded], after: lastCursor });
    const first = (await resumed.waitFor(1))[0].inventoryChanged;
    expect(first.cursor).toBe(next!.seq);
    resumed.close();
    await Promise.all([client.dispose(), resumedClient.dispose()]);
    await small.stop();
  }, 120_000);
});

describe('two gateway processes on one database', () => {
  it('each delivers every change to its own subscribers', async () => {
    const port = await freePort();
    const other = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => other.stdout!.on('data', (d) => { if (String(d).includes('/graphql')) resolve(); }));
    const k = sku('two');
    await post(gw.url, UPSERT, { items: items(p, { two: { available: 50 } }) });
    const clientA = wsClient(gw.wsUrl);
    const clientB = wsClient(`ws://127.0.0.1:${port}/graphql`);
    const a = wsSubscribe(clientA, INV, { skus: [k] });
    const b = wsSubscribe(clientB, INV, { skus: [k] });
    await until(() => gw.hub.subscriberCount > 0, 10_000);
    await sleep(500); // the other process's subscription is registered by now
    for (let n = 49; n >= 30; n--) await post(n % 2 ? gw.url : `http://127.0.0.1:${port}/graphql`, SET, { sku: k, n });
    const want = Array.from({ length: 20 }, (_, i) => 49 - i);
    expect((await a.waitFor(20)).map((x: any) => x.inventoryChanged.available)).toEqual(want);
    expect((await b.waitFor(20)).map((x: any) => x.inventoryChanged.available)).toEqual(want);
    a.close();
    b.close();
    await Promise.all([clientA.dispose(), clientB.dispose()]);
    const exited = new Promise((r) => other.on('exit', r));
    other.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
