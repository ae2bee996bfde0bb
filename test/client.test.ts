// The resumable client (src/client): the README's example, run exactly as written
// (only its port changed) as its own process against a real gateway process that
// is killed, stopped and restarted on the same port while a second gateway keeps
// writing, and ended with SLOW_CONSUMER: every committed change arrives exactly
// once, in commit order. Then the API alone: retrying past graphql-ws' five
// attempts, stopping on 4401, CURSOR_EXPIRED with and without resync. Own databases.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createKey, revokeKey } from '../src/auth/keys.js';
import { createLiveClient, type LiveError } from '../src/client/index.js';
import { appendChanges, logBounds, pruneChanges } from '../src/live/changelog.js';
import { seedDemo } from '../src/writes/seed.js';
import { freePort } from './global-setup.js';
import { ownDatabase, ownGateway, testGateway, type TestGateway } from './helpers.js';
import { liveGateway, sleep, until, wsClient, wsSubscribe, type LiveGateway } from './live-helpers.js';

const SET = 'mutation($sku: ID!, $n: Int!) { setInventory(sku: $sku, available: $n) { available } }';

/** The README's one client example (the ts block that uses createLiveClient). */
function readmeExample(): string {
  const blocks = [...fs.readFileSync('README.md', 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
    .filter((b) => b.includes('createLiveClient'));
  expect(blocks).toHaveLength(1);
  return blocks[0]!;
}

function gatewayProcess(env: Record<string, string>): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => { out += d; if (out.includes('/graphql (GraphiQL')) resolve(); });
    child.stderr!.on('data', (d) => { out += d; });
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before it was ready: ${out}`)));
  });
  ready.catch(() => {});
  return { child, ready, output: () => out };
}

const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));

describe('the README example (a separate process) across restarts and SLOW_CONSUMER', () => {
  let writer: TestGateway;
  const children: ChildProcess[] = [];
  const script = path.resolve('.data', `readme-live-${process.pid}.ts`);

  beforeAll(async () => {
    writer = await ownGateway();
    await seedDemo(writer.sql);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await writer?.close();
    fs.rmSync(script, { force: true });
  });

  it('prints every committed change of sku-espresso exactly once, in commit order', async () => {
    const port = await freePort();
    // A buffer of 5 events: a burst of 20 changes in one transaction ends the subscription with SLOW_CONSUMER.
    const env = { DATABASE_URL: writer.url, PORT: String(port), LIVE_BUFFER_LIMIT: '5' };
    const start = async () => {
      const g = gatewayProcess(env);
      children.push(g.child);
      await g.ready;
      return g.child;
    };
    let gateway = await start();

    fs.mkdirSync(path.dirname(script), { recursive: true });
    fs.writeFileSync(script, readmeExample().replaceAll('localhost:4000', `localhost:${port}`));
    const example = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(example);
    let out = '';
    let err = '';
    example.stdout!.on('data', (d) => { out += d; });
    example.stderr!.on('data', (d) => { err += d; });
    const lines = (kind: string) => out.split('\n').filter((l) => l.startsWith(`${kind} `)).map((l) => l.split(' '));
    const printed = () => lines('change').map(([, cursor, sku, available]) => ({ cursor, sku, available: Number(available) }));

    await until(() => lines('state').length === 1, 30_000);
    const [[, startCursor, startAvailable]] = lines('state') as [string[]];
    expect(Number(startAvailable)).toBe(40);
    let n = 40;
    const write = async () => {
      const res = await writer.gql(SET, { sku: 'sku-espresso', n: --n });
      expect(res.errors).toBeUndefined();
    };
    const written = () => 40 - n;
    const arrived = (count: number) => until(() => printed().length >= count, 30_000);

    for (let i = 0; i < 3; i++) await write();
    await arrived(written());

    // SLOW_CONSUMER: 20 changes committed at once overflow the 5-event buffer. A plain client
    // subscribed alongside shows that the burst does end subscriptions so.
    const observer = wsClient(`ws://127.0.0.1:${port}/graphql`);
    const observed = wsSubscribe(observer, 'subscription { inventoryChanged(skus: ["sku-espresso"]) { cursor } }');
    await sleep(1000);
    await writer.sql.begin((tx) => appendChanges(tx, Array.from({ length: 20 }, () => ({
      topic: 'inventory' as const, key: 'sku-espresso', payload: { sku: 'sku-espresso', available: --n, previous: n + 1, cause: 'SET_INVENTORY' as const },
    }))));
    await observed.done;
    expect(JSON.stringify(observed.errors)).toContain('SLOW_CONSUMER');
    await observer.dispose();
    await arrived(written());

    // Killed hard: nothing tells the client; it writes meanwhile through the second gateway.
    gateway.kill('SIGKILL');
    await exited(gateway);
    for (let i = 0; i < 3; i++) await write();
    gateway = await start();
    for (let i = 0; i < 2; i++) await write();
    await arrived(written());

    // Stopped cleanly: the subscription ends with UNAVAILABLE; writes go on while it is down.
    gateway.kill('SIGTERM');
    await exited(gateway);
    for (let i = 0; i < 2; i++) await write();
    gateway = await start();
    for (let i = 0; i < 2; i++) await write();
    await arrived(written());
    await sleep(500); // anything repeated would arrive by now

    const log = await writer.sql<{ seq: string; available: number }[]>`
      select seq::text, (payload->>'available')::int as available from change_log
      where topic = 'inventory' and key = 'sku-espresso' and seq > ${Number(startCursor)} order by change_log.seq`;
    expect(log).toHaveLength(written());
    expect(printed()).toEqual(log.map((r) => ({ cursor: r.seq, sku: 'sku-espresso', available: r.available })));
    expect(err).toBe('');
    expect(example.exitCode).toBeNull();
    example.kill('SIGTERM');
    gateway.kill('SIGTERM');
    await Promise.all([exited(example), exited(gateway)]);
  }, 180_000);
});

describe('createLiveClient', () => {
  let writer: TestGateway;
  beforeAll(async () => {
    writer = await ownGateway();
    await writer.gql('mutation { upsertItems(items: [{ sku: "c-a", title: "A", category: "c", priceMinor: 100, currency: "EUR", available: 100 }]) { count } }');
  });
  afterAll(() => writer?.close());

  const SUB = 'subscription($after: String) { inventoryChanged(skus: ["c-a"], after: $after) { cursor available } }';
  const head = async () => String((await logBounds(writer.sql)).head);
  let stock = 100;
  const write = async () => {
    const res = await writer.gql(SET, { sku: 'c-a', n: --stock });
    expect(res.errors).toBeUndefined();
    return stock;
  };

  it('keeps retrying through a long outage (past graphql-ws\' five attempts) and resumes without a gap', async () => {
    const port = await freePort();
    let gw: LiveGateway = await liveGateway({ port }, writer.url);
    let attempts = 0;
    const live = createLiveClient({
      url: gw.wsUrl, webSocketImpl: WebSocket, minRetryDelayMs: 20, maxRetryDelayMs: 100,
      on: { connecting: () => { attempts++; } },
    });
    const got: number[] = [];
    const errors: LiveError[] = [];
    live.subscribe<{ cursor: string; available: number }>({ query: SUB, after: await head() },
      { next: (c) => got.push(c.available), error: (e) => errors.push(e) });
    const expected = [await write()];
    await until(() => got.length === 1);
    await gw.stop();
    const before = attempts;
    expected.push(await write(), await write());
    await until(() => attempts - before >= 12, 10_000); // a plain graphql-ws client stops after 5
    gw = await liveGateway({ port }, writer.url);
    expected.push(await write());
    await until(() => got.length >= expected.length, 10_000);
    await sleep(300);
    expect(got).toEqual(expected);
    expect(errors).toEqual([]);
    await live.dispose();
    await gw.stop();
  }, 60_000);

  it('stops on 4401 (a revoked key) and reports it, without retrying', async () => {
    // A database of its own: once a key exists, authentication is on for every gateway on it.
    const keyed = await ownDatabase();
    const gw = await liveGateway({}, keyed.url);
    const { id, key } = await createKey(gw.sql, 'subscriber', 'client test');
    await gw.keys.reload();
    const keyedWriter = testGateway({ url: keyed.url });
    await keyedWriter.gql('mutation { upsertItems(items: [{ sku: "c-a", title: "A", category: "c", priceMinor: 100, currency: "EUR", available: 9 }]) { count } }');
    const from = String((await logBounds(gw.sql)).head);
    let attempts = 0;
    const live = createLiveClient({
      url: gw.wsUrl, webSocketImpl: WebSocket, minRetryDelayMs: 20, maxRetryDelayMs: 100,
      connectionParams: { authorization: `Bearer ${key}` }, on: { connecting: () => { attempts++; } },
    });
    const got: number[] = [];
    const errors: LiveError[] = [];
    live.subscribe<{ cursor: string; available: number }>({ query: SUB, after: from },
      { next: (c) => got.push(c.available), error: (e) => errors.push(e) });
    expect((await keyedWriter.gql(SET, { sku: 'c-a', n: 8 })).errors).toBeUndefined();
    await until(() => got.length === 1);
    expect(got).toEqual([8]);
    await revokeKey(gw.sql, id);
    await until(() => errors.length === 1, 10_000);
    expect(errors[0]!.code).toBe(4401);
    const after = attempts;
    await sleep(1000);
    expect(attempts).toBe(after);
    expect(errors).toHaveLength(1);

    // A bad key from the start: the same, at the first attempt.
    const bad = createLiveClient({ url: gw.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: 'Bearer nope' } });
    const badErrors: LiveError[] = [];
    bad.subscribe({ query: SUB, after: from }, { next: () => {}, error: (e) => badErrors.push(e) });
    await until(() => badErrors.length === 1, 10_000);
    expect(badErrors[0]!.code).toBe(4401);
    await Promise.all([live.dispose(), bad.dispose()]);
    await gw.stop();
    await keyedWriter.close();
    await keyed.drop();
  }, 30_000);

  it('on CURSOR_EXPIRED calls resync and continues from the cursor it returns; without resync it reports the error', async () => {
    const gw = await liveGateway({}, writer.url);
    const old = await head();
    await write();
    await sleep(1100);
    await pruneChanges(writer.sql, 1); // everything older than a second: `old` has expired
    let resyncs = 0;
    const live = createLiveClient({ url: gw.wsUrl, webSocketImpl: WebSocket, minRetryDelayMs: 20 });
    const got: number[] = [];
    live.subscribe<{ cursor: string; available: number }>({
      query: SUB, after: old,
      resync: async () => { resyncs++; return head(); },
    }, { next: (c) => got.push(c.available) });
    await until(() => resyncs === 1, 10_000);
    await sleep(300); // subscribed from the fresh cursor
    const expected = [await write(), await write()];
    await until(() => got.length >= 2, 10_000);
    await sleep(300);
    expect(got).toEqual(expected);
    expect(resyncs).toBe(1);

    const errors: LiveError[] = [];
    live.subscribe({ query: SUB, after: old }, { next: () => {}, error: (e) => errors.push(e) });
    await until(() => errors.length === 1, 10_000);
    expect(errors[0]!.code).toBe('CURSOR_EXPIRED');
    await live.dispose();
    await gw.stop();
  }, 30_000);

  it('a resync refused for good (a bad key) ends the subscription with its code; other resync failures are retried', async () => {
    const gw = await liveGateway({}, writer.url);
    const live = createLiveClient({ url: gw.wsUrl, webSocketImpl: WebSocket, minRetryDelayMs: 20 });
    const errors: LiveError[] = [];
    let refused = 0;
    live.subscribe({ query: SUB, resync: async () => { refused++; throw Object.assign(new Error('Missing API key'), { code: 'UNAUTHENTICATED' }); } },
      { next: () => {}, error: (e) => errors.push(e) });
    let flaky = 0;
    const got: unknown[] = [];
    live.subscribe({ query: SUB, resync: async () => { if (++flaky < 3) throw new TypeError('fetch failed'); return head(); } },
      { next: (c) => got.push(c), error: (e) => errors.push(e) });
    await until(() => errors.length === 1 && flaky >= 3, 10_000);
    await sleep(200);
    expect(errors.map((e) => e.code)).toEqual(['UNAUTHENTICATED']);
    expect(refused).toBe(1); // not retried
    expect(flaky).toBe(3); // retried until it answered, then subscribed
    await live.dispose();
    await gw.stop();
  }, 30_000);

  it('refuses a request it could not resume, and reports an invalid operation without retrying', async () => {
    const gw = await liveGateway({}, writer.url);
    const live = createLiveClient({ url: gw.wsUrl, webSocketImpl: WebSocket, minRetryDelayMs: 20 });
    expect(() => live.subscribe({ query: SUB }, { next: () => {} })).toThrow(/after.*resync/);
    expect(() => live.subscribe({ query: 'subscription { inventoryChanged { cursor } }', after: '0' }, { next: () => {} })).toThrow(/\$after/);
    const errors: LiveError[] = [];
    live.subscribe({ query: 'subscription($after: String) { inventoryChanged(after: $after) { cursor nope } }', after: await head() },
      { next: () => {}, error: (e) => errors.push(e) });
    await until(() => errors.length === 1, 10_000);
    expect(errors[0]!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    // Two operations and no operationName: nothing to run, however often it retries.
    live.subscribe({ query: 'subscription A($after: String) { inventoryChanged(after: $after) { cursor } } subscription B { policyFlipped { cursor } }', after: await head() },
      { next: () => {}, error: (e) => errors.push(e) });
    await until(() => errors.length === 2, 10_000);
    expect(errors[1]!.code).toBe('OPERATION_RESOLUTION_FAILURE');
    await live.dispose();
    await gw.stop();
  }, 30_000);
});
