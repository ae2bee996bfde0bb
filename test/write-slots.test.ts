// Write transactions wait for one of PG_WRITE_CONCURRENCY slots before they take a
// pool connection: writers queued on the commit-order lock leave connections for
// decisions. Without the slots (writeConcurrency = poolMax) the same writers hold
// every connection and the decision waits for the lock's holder.
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHANGE_LOG_LOCK } from '../src/live/changelog.js';
import { sleep } from '../src/util.js';
import { DECISION, items, ok, ownDatabase, RECORD, testGateway, uid, UPSERT, type TestGateway } from './helpers.js';

const p = uid('wslot');
const pool = { poolMax: 4, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 };
const gateways: TestGateway[] = [];
// A database of its own: advisory locks are per database, so holding the lock stalls no other test file's writes.
let own: Awaited<ReturnType<typeof ownDatabase>>;
let holder: postgres.Sql;

beforeAll(async () => {
  own = await ownDatabase();
  holder = postgres(own.url, { max: 2, onnotice: () => {} }); // one connection holds the lock, one looks
  const setup = testGateway({ url: own.url });
  gateways.push(setup);
  ok(await setup.gql(UPSERT, { items: items(p, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`s${i}`, { available: 1000 }]))) }));
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await holder.end();
  await own.drop();
});

/** Six purchases queue behind a held commit-order lock; then a decision. Which finished first? */
async function decisionWhileWritersWait(writeConcurrency: number | undefined) {
  const gw = testGateway({ url: own.url, pool: { ...pool, ...(writeConcurrency ? { writeConcurrency } : {}) } });
  gateways.push(gw);
  const lock = await holder.reserve();
  await lock`select pg_advisory_lock(${CHANGE_LOG_LOCK})`;
  let released = false;
  const writes = Array.from({ length: 6 }, (_, i) => gw.gql(RECORD, { events: [{ kind: 'PURCHASE', userId: `${p}-b${i}`, sku: `${p}-s${i}`, quantity: 1 }] }));
  // Every writer that holds a connection is now waiting for the lock.
  let waiting = 0;
  for (let i = 0; i < 100 && waiting < Math.min(writeConcurrency ?? pool.poolMax, pool.poolMax); i++) {
    await sleep(50);
    const [row] = await holder<{ waiting: number }[]>`
      select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'`;
    waiting = row!.waiting;
  }
  const decision = gw.gql(DECISION, { u: `${p}-u`, s: null, c: [`${p}-s7`], r: null }).then((r) => ({ r, whileLocked: !released }));
  await Promise.race([decision, sleep(3000)]);
  released = true;
  await lock`select pg_advisory_unlock(${CHANGE_LOG_LOCK})`;
  lock.release();
  const { r, whileLocked } = await decision;
  expect(ok(r).decisionContext.candidates[0].inventory.available).toBeGreaterThan(0);
  // No write is lost or refused by the wait: each applies once the lock is free.
  for (const w of await Promise.all(writes)) expect(ok(w).recordEvents.accepted).toBe(1);
  return { whileLocked, waiting };
}

it('a decision answers while writers wait on the commit-order lock (2 write slots of 4 connections)', async () => {
  const { whileLocked, waiting } = await decisionWhileWritersWait(2);
  expect(waiting).toBe(2);
  expect(whileLocked).toBe(true);
});

it('without write slots the waiting writers hold every connection and the decision waits for the lock', async () => {
  const { whileLocked, waiting } = await decisionWhileWritersWait(undefined);
  expect(waiting).toBe(4);
  expect(whileLocked).toBe(false);
});
