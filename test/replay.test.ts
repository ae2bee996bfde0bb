// Replays from a cursor filter in SQL: a filter that matches nothing reads a
// few statements however long the log, not every row; a filter with keys gets
// exactly its entries in order; the replay→live seam has no gap and no
// duplicate; a prune that overtakes a filtered replay ends it with
// CURSOR_EXPIRED, never skipping; replay statements queue behind the hub's gate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../src/db/client.js';
import { appendChanges, logBounds, pruneChanges, type Change, type LoggedChange } from '../src/live/changelog.js';
import { ChangeHub, REPLAY_PAGE, REPLAY_SCAN_FIRST, REPLAY_SCAN_MAX, StreamEnd, type Delivery, type Filter } from '../src/live/hub.js';
import { createLogger } from '../src/logger.js';
import { ownDatabase } from './helpers.js';
import { drain, liveGateway, post, until, wsClient, wsSubscribe } from './live-helpers.js';

// Thousands of log entries, retention run on the whole table: a database of its own.
let db: Awaited<ReturnType<typeof ownDatabase>>;
let sql: Sql;
/** Every statement the hubs' pool sent. */
const statements: string[] = [];
let hubSql: Sql;
/** Replay statements have an upper bound on seq; the follower's reads (readChanges) do not. */
const replayReads = () => statements.filter((q) => q.includes('json_agg') && q.includes('seq <=')).length;

beforeAll(async () => {
  db = await ownDatabase();
  sql = createSql(db.url, { poolMax: 4, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 });
  hubSql = createSql(db.url, { poolMax: 2, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 }, (_c, q) => statements.push(q));
});
afterAll(async () => {
  await Promise.all([sql.end({ timeout: 5 }), hubSql.end({ timeout: 5 })]);
  await db.drop();
});

/** Statements a replay that finds nothing needs over `span` seqs: each looks twice as far as the one before, up to the cap. */
function emptyWindows(span: number): number {
  let n = 0;
  for (let at = 0, scan = REPLAY_SCAN_FIRST; at < span; at += scan, scan = Math.min(2 * scan, REPLAY_SCAN_MAX)) n++;
  return n;
}

/** `n` entries in one statement: inventory for key(i), every 50th a policy entry with the same key. */
async function seed(n: number, key: (i: number) => string): Promise<{ from: number; to: number }> {
  const from = (await logBounds(sql)).head;
  const keys = Array.from({ length: n }, (_, i) => key(i));
  await sql`insert into change_log (topic, key, payload)
    select case when i % 50 = 49 then 'policy' else 'inventory' end, k, jsonb_build_object('sku', k, 'available', i, 'previous', null)
    from unnest(${sql.array(keys)}::text[]) with ordinality as t(k, i) order by i`;
  return { from, to: (await logBounds(sql)).head };
}

/** A started hub that has dispatched through the head: subscribers from an older cursor replay from the log. */
async function caughtUpHub(opts: { replayReads?: number; sql?: Sql } = {}): Promise<ChangeHub> {
  const hub = new ChangeHub({ sql: opts.sql ?? hubSql, logger: createLogger('silent'), bufferLimit: 100_000, pollMs: 60_000, ...opts });
  await hub.start();
  return hub;
}

const write = (changes: Change[]) => sql.begin((tx) => appendChanges(tx, changes));
const inv = (key: string, available = 1): Change => ({ topic: 'inventory', key, payload: { sku: key, available, previous: null } });

async function take(sub: AsyncIterableIterator<Delivery>, n: number): Promise<LoggedChange[]> {
  const got: LoggedChange[] = [];
  while (got.length < n) {
    const { value, done } = await sub.next();
    if (done || value instanceof StreamEnd) throw new Error(`ended after ${got.length}/${n}: ${value instanceof StreamEnd ? value.error.message : 'done'}`);
    got.push(value);
  }
  return got;
}

async function matching(filter: Filter, after: number, through = Number.MAX_SAFE_INTEGER): Promise<number[]> {
  const keys = filter.keys && [...filter.keys];
  const rows = await sql<{ seq: string }[]>`select c.seq::text as seq from change_log c
    where c.seq > ${after} and seq <= ${through} and topic = ${filter.topic} ${keys ? sql`and key = any(${sql.array(keys)}::text[])` : sql``}
    order by c.seq`;
  return rows.map((r) => Number(r.seq));
}

describe('a replay whose filter matches nothing', () => {
  it('reads a few statements over a log of 70,000 entries, ends, then delivers a matching change committed afterwards', async () => {
    const { from, to } = await seed(70_000, (i) => `busy-${i % 300}`);
    const hub = await caughtUpHub();
    expect(hub.dispatchedThrough).toBe(to);
    const before = replayReads();
    const sub = await hub.subscribe({ topic: 'inventory', keys: new Set(['nothing-matches']) }, String(from));
    const first = sub.next();
    await write([inv('busy-1'), inv('nothing-matches', 7)]);
    const { value } = await first;
    expect(value).toMatchObject({ topic: 'inventory', key: 'nothing-matches', seq: to + 2, payload: { available: 7 } });
    // 7 statements (windows of 1,000, 2,000, … 32,000 seqs); the unfiltered replay read 140 pages of REPLAY_PAGE rows.
    expect(replayReads() - before).toBe(emptyWindows(to - from));
    expect(emptyWindows(to - from)).toBe(7);
    await sub.return!();
    await hub.stop();
  });

  it('also from cursor 0 over graphql-ws: 30 of them end their replay and all get the next matching change', async () => {
    const gw = await liveGateway({}, db.url);
    const client = wsClient(gw.wsUrl);
    const INV = `subscription($after: String) { inventoryChanged(skus: ["ws-nothing"], after: $after) { cursor sku available } }`;
    const streams = Array.from({ length: 30 }, () => wsSubscribe(client, INV, { after: '0' }));
    await until(() => gw.hub.subscriberCount === 30, 10_000);
    await write([inv('ws-nothing', 3)]);
    for (const s of streams) expect((await s.waitFor(1)).map((x: any) => x.inventoryChanged.available)).toEqual([3]);
    for (const s of streams) s.close();
    await client.dispose();
    await gw.stop();
  });
});

describe('a replay with keys', () => {
  it('delivers exactly the matching entries of its topic, in order, across pages and scan windows', async () => {
    const { from } = await seed(25_000, (i) => (i % 7 === 0 ? 'k7' : i % 13 === 0 ? 'k13' : `other-${i % 100}`));
    const hub = await caughtUpHub();
    const filter: Filter = { topic: 'inventory', keys: new Set(['k7', 'k13', 'absent']) };
    const want = await matching(filter, from, hub.dispatchedThrough);
    expect(want.length).toBeGreaterThan(3 * REPLAY_PAGE); // several pages, in more than one window
    const sub = await hub.subscribe(filter, String(from));
    const got = await take(sub, want.length);
    expect(got.map((c) => c.seq)).toEqual(want);
    expect(got.every((c) => c.topic === 'inventory' && (c.key === 'k7' || c.key === 'k13'))).toBe(true);
    await sub.return!();

    const policy: Filter = { topic: 'policy', keys: null }; // the topic alone filters too
    const wantPolicy = await matching(policy, from, hub.dispatchedThrough);
    const subPolicy = await hub.subscribe(policy, String(from));
    expect((await take(subPolicy, wantPolicy.length)).map((c) => c.seq)).toEqual(wantPolicy);
    await subPolicy.return!();
    await hub.stop();
  });

  it('continues live at the seam with no gap and no duplicate while writers commit during the replay', async () => {
    const { from } = await seed(12_000, (i) => (i % 5 === 0 ? 'seam' : `noise-${i % 50}`));
    const hub = await caughtUpHub();
    const filter: Filter = { topic: 'inventory', keys: new Set(['seam']) };
    const sub = await hub.subscribe(filter, String(from));
    const writing = (async () => {
      for (let i = 0; i < 40; i++) await write([inv('noise-x', i), inv('seam', i), inv('noise-y', i)]);
    })();
    const got: number[] = [];
    got.push(...(await take(sub, 10)).map((c) => c.seq)); // the replay is under way while the writers commit
    await writing;
    await write([inv('seam', -1)]); // the last one: everything up to it must arrive, once each, in order
    const want = await matching(filter, from);
    got.push(...(await take(sub, want.length - got.length)).map((c) => c.seq));
    expect(got).toEqual(want);
    await sub.return!();
    await hub.stop();
  });
});

describe('a prune that overtakes a filtered replay', () => {
  it('ends it with CURSOR_EXPIRED after the entries it delivered, never skipping one', async () => {
    const { from } = await seed(8_000, (i) => (i % 4 === 0 ? 'kept' : `drop-${i % 10}`));
    const hub = await caughtUpHub();
    const filter: Filter = { topic: 'inventory', keys: new Set(['kept']) };
    const want = await matching(filter, from, hub.dispatchedThrough);
    expect(want.length).toBeGreaterThan(REPLAY_PAGE);
    const sub = await hub.subscribe(filter, String(from));
    const seqs = (await take(sub, 10)).map((c) => c.seq); // its first page is read
    const pruneThrough = want[REPLAY_PAGE + 100]!; // past that page (one window of REPLAY_SCAN_FIRST seqs): the next read finds entries gone
    await sql`update change_log set committed_at = now() - interval '2 days' where seq <= ${pruneThrough}`;
    await pruneChanges(sql, 86_400);
    const { end } = await drain(sub, seqs);
    expect(seqs).toEqual(want.slice(0, seqs.length)); // a prefix: nothing skipped
    expect(seqs.length).toBeLessThan(want.length);
    expect(end?.error.extensions.code).toBe('CURSOR_EXPIRED');
    expect(end?.error.extensions.lastCursor).toBe(String(seqs.at(-1)));
    await hub.stop();
  });
});

describe('the replay gate', () => {
  it('keeps at most replayReads replay statements in flight over 100 replays, and each still ends and goes live', async () => {
    const { from } = await seed(30_000, (i) => `gate-${i % 200}`);
    let inFlight = 0;
    let most = 0;
    // The hub's pool, with replay statements (an upper bound on seq) counted while they run.
    const counted = new Proxy(hubSql, {
      apply(target, self, args: unknown[]) {
        const query = Reflect.apply(target, self, args);
        const text = Array.isArray(args[0]) ? args[0].join('') : '';
        if (!text.includes('json_agg') || !text.includes('seq <=')) return query;
        inFlight++;
        most = Math.max(most, inFlight);
        return Promise.resolve(query).finally(() => { inFlight--; });
      },
    });
    const hub = await caughtUpHub({ sql: counted, replayReads: 2 });
    const subs = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      hub.subscribe({ topic: 'inventory', keys: new Set([`gate-none-${i}`]) }, String(from))));
    const firsts = subs.map((s) => s.next());
    await write(subs.map((_, i) => inv(`gate-none-${i}`, i)));
    const got = await Promise.all(firsts);
    expect(got.map((r) => (r.value as LoggedChange).key)).toEqual(subs.map((_, i) => `gate-none-${i}`));
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    await Promise.all(subs.map((s) => s.return!()));
    await hub.stop();
  });

  it('lets keys take turns: one key queuing 100 replays does not hold back another key\'s replay', async () => {
    const { from } = await seed(30_000, (i) => `turn-${i % 100}`);
    const hub = await caughtUpHub();
    const filter: Filter = { topic: 'inventory', keys: new Set(['turn-none']) };
    const finished: string[] = [];
    const many = await Promise.all(Array.from({ length: 100 }, () => hub.subscribe(filter, String(from), 'key-a')));
    const manyFirsts = many.map((s) => s.next().then(() => finished.push('a')));
    const one = await hub.subscribe(filter, String(from), 'key-b'); // queued behind all of key-a's first reads
    const oneFirst = one.next().then(() => finished.push('b'));
    await write([inv('turn-none')]);
    await Promise.all([...manyFirsts, oneFirst]);
    // Each of its 5 reads waits for one of key-a's: it ends first. In one queue it would end among the last.
    expect(finished.indexOf('b')).toBe(0);
    await Promise.all([...many, one].map((s) => s.return!()));
    await hub.stop();
  });
});
