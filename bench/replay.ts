// `npm run bench:replay`: decisions while clients catch up from an old cursor.
// A gateway process serves 50-candidate decisions (closed loop) while N SSE
// subscriptions replay a long change log from cursor 0 (each restarts when it
// reaches the head). The same run alternates the feed on the decisions' pool
// (FEED_POOL_MAX=0) and on a pool of its own (the default), so the box's drift
// cancels out. Figures go to bench/results/replay-<date>.json.
//
// BENCH_MODE=nomatch: the review's case instead. N SSE subscriptions of one
// client, inventoryChanged(skus: ["nothing-matches"], after: "0"), all opened at
// once over a LOG_ROWS log: none ever yields a replayed entry. Decisions, a
// writer (setInventory, 20/s) and a live subscriber of its SKU run before (no
// replays) and while they replay; a change of "nothing-matches" committed right
// after they open reaches each once its replay is done (= its catch-up time).
// Figures go to bench/results/replay-nomatch-<date>.json. To compare builds, run
// it in a `git worktree` of each (this file copied in), alternating.
import fs from 'node:fs';
import { appendChanges } from '../src/live/changelog.js';
import { sleep } from '../src/util.js';
import { benchDatabase, closeHttpAgent, cpuSnapshot, cpuSplit, httpPost, machine, percentile, seedCatalog, skuName, startGateway } from './setup.js';

const MODE = process.env.BENCH_MODE || 'pools';
const NOMATCH = MODE === 'nomatch';
const SECONDS = Number(process.env.BENCH_SECONDS || (NOMATCH ? 30 : 8));
const CLIENTS = Number(process.env.BENCH_CLIENTS || 8);
const REPLAYS = Number(process.env.BENCH_REPLAYS || (NOMATCH ? 300 : 50));
const LOG_ROWS = Number(process.env.BENCH_LOG_ROWS || (NOMATCH ? 30_000 : 100_000));
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);

const QUERY = `query($c: [ID!]!) { decisionContext(userId: "user-1", sessionId: "session-1", candidates: $c) {
  snapshot { cursor } candidates { sku eligible inventory { available } velocity { salesLast5m } price { amountMinor } } } }`;

/** Keeps `n` SSE replays from cursor 0 running until stopped; counts the events they read. */
function replays(url: string, n: number) {
  let stop = false;
  let events = 0;
  const abort = new AbortController();
  const one = async () => {
    while (!stop) {
      try {
        const res = await fetch(url, {
          method: 'POST', signal: abort.signal,
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query: 'subscription { inventoryChanged(after: "0") { cursor } }' }),
        });
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          events += Buffer.from(chunk).toString().split('event: next').length - 1;
          if (stop) break;
        }
      } catch { /* aborted at the end */ }
    }
  };
  const all = Array.from({ length: n }, one);
  return { get events() { return events; }, async stop() { stop = true; abort.abort(); await Promise.all(all); } };
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: r2(percentile(s, 50)), p99: r2(percentile(s, 99)), max: r2(s.at(-1) ?? NaN) };
};

/** Closed-loop decisions until stopped, each as [start (ms, performance.now), latency]. */
function decisionLoad(url: string) {
  const samples: [number, number][] = [];
  let errors = 0;
  let stop = false;
  const body = JSON.stringify({ query: QUERY, variables: { c: Array.from({ length: 50 }, (_, i) => skuName(i * 3)) } });
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      const r = await httpPost(url, body).catch(() => ({ status: 0, body: '' }));
      if (r.status === 200 && !r.body.includes('"errors"')) samples.push([t0, performance.now() - t0]); else errors++;
    }
  };
  const workers = Array.from({ length: CLIENTS }, worker);
  return { samples, get errors() { return errors; }, async stop() { stop = true; await Promise.all(workers); } };
}

/** SECONDS of closed-loop decisions: throughput and latency. */
async function decisions(url: string) {
  const load = decisionLoad(url);
  await sleep(SECONDS * 1000);
  await load.stop();
  const { p50, p99 } = stats(load.samples.map(([, ms]) => ms));
  return { decisionsPerS: r2(load.samples.length / SECONDS), p50, p99, errors: load.errors };
}

/** One setInventory every 50 ms (latency per write) and a live subscriber of that SKU (commit → receipt). */
function writerAndPush(url: string) {
  const writes: [number, number][] = [];
  const lag: [number, number][] = [];
  let stop = false;
  const abort = new AbortController();
  const sku = skuName(1);
  void (async () => {
    try {
      const res = await fetch(url, {
        method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: `subscription { inventoryChanged(skus: ["${sku}"]) { committedAt } }` }),
      });
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString();
        for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
          const m = /"committedAt":"([^"]+)"/.exec(buf.slice(0, i));
          if (m) lag.push([performance.now(), Date.now() - Date.parse(m[1]!)]);
        }
      }
    } catch { /* aborted at the end */ }
  })();
  const writer = (async () => {
    for (let n = 0; !stop; n++) {
      const t0 = performance.now();
      await httpPost(url, JSON.stringify({ query: 'mutation($s: ID!, $n: Int!) { setInventory(sku: $s, available: $n) { available } }',
        variables: { s: sku, n: 1_000_000 + (n % 1000) } })).catch(() => {});
      writes.push([t0, performance.now() - t0]);
      await sleep(Math.max(0, 50 - (performance.now() - t0)));
    }
  })();
  return { writes, lag, async stop() { stop = true; await writer; await sleep(300); abort.abort(); } };
}

/** `n` SSE replays that match nothing; `caughtUp[i]` is when stream i got its first event (performance.now). */
async function noMatchReplays(url: string, n: number) {
  const abort = new AbortController();
  const caughtUp: (number | undefined)[] = Array.from({ length: n }, () => undefined);
  const opened = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const res = await fetch(url, {
      method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { inventoryChanged(skus: ["nothing-matches"], after: "0") { cursor } }' }),
    });
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (caughtUp[i] === undefined && Buffer.from(chunk).toString().includes('event: next')) caughtUp[i] = performance.now();
        }
      } catch { /* aborted at the end */ }
    })();
    return res.status;
  }));
  return { caughtUp, statuses: opened, close: () => abort.abort() };
}

const within = (xs: [number, number][], from: number, to: number) => xs.filter(([t]) => t >= from && t < to).map(([, v]) => v);

/** A bench database with the catalog and LOG_ROWS change-log entries spread over its 1,000 SKUs. */
async function benchLog() {
  const db = await benchDatabase();
  await seedCatalog(db.sql);
  await db.sql`insert into change_log (topic, key, payload)
    select 'inventory', 'bench-' || lpad((g % 1000)::text, 4, '0'),
           jsonb_build_object('sku', 'bench-' || lpad((g % 1000)::text, 4, '0'), 'available', g, 'previous', g - 1, 'cause', 'SET_INVENTORY')
    from generate_series(1, ${LOG_ROWS}) g`;
  return db;
}

async function noMatch() {
  const db = await benchLog();
  await db.sql`vacuum analyze change_log`;
  const runs: Record<string, unknown>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const gw = await startGateway(db.url, { MAX_IN_FLIGHT: '100000' });
    const warm = decisionLoad(gw.url);
    await sleep(3000);
    await warm.stop();

    // Before: no replays.
    let load = decisionLoad(gw.url);
    let side = writerAndPush(gw.url);
    let cpu0 = cpuSnapshot();
    let t0 = performance.now();
    await sleep(SECONDS * 1000);
    let t1 = performance.now();
    await load.stop();
    await side.stop();
    const quiet = { seconds: r2((t1 - t0) / 1000), decisionMs: stats(within(load.samples, t0, t1)), decisionErrors: load.errors,
      writeMs: stats(within(side.writes, t0, t1)), pushLagMs: stats(within(side.lag, t0, t1)), cores: cpuSplit(cpu0, cpuSnapshot(), (t1 - t0) / 1000, gw.pid) };

    // With REPLAYS replays opened at once.
    load = decisionLoad(gw.url);
    side = writerAndPush(gw.url);
    await sleep(1000);
    cpu0 = cpuSnapshot();
    t0 = performance.now();
    const replays = await noMatchReplays(gw.url, REPLAYS);
    const opened = performance.now();
    await db.sql.begin((tx) => appendChanges(tx, [{ topic: 'inventory', key: 'nothing-matches', payload: { sku: 'nothing-matches', available: 1, previous: null } }]));
    while (performance.now() - t0 < SECONDS * 1000 && replays.caughtUp.some((c) => c === undefined)) await sleep(50);
    const caught = replays.caughtUp.filter((c): c is number => c !== undefined);
    const doneAt = caught.length === REPLAYS ? Math.max(...caught) : performance.now();
    await sleep(Math.max(0, t0 + SECONDS * 1000 - performance.now()));
    t1 = performance.now();
    const cpu1 = cpuSnapshot();
    await load.stop();
    await side.stop();
    replays.close();
    await gw.stop();
    const catchUp = caught.map((c) => c - t0);
    const row = {
      round, replays: REPLAYS, logRows: LOG_ROWS, noReplays: quiet,
      withReplays: {
        openMs: r2(opened - t0), replaysCaughtUp: caught.length, caughtUpMs: stats(catchUp), statuses: [...new Set(replays.statuses)],
        whileReplaying: { seconds: r2((doneAt - t0) / 1000), decisionMs: stats(within(load.samples, t0, doneAt)),
          writeMs: stats(within(side.writes, t0, doneAt)), pushLagMs: stats(within(side.lag, t0, doneAt)) },
        window: { seconds: r2((t1 - t0) / 1000), decisionMs: stats(within(load.samples, t0, t1)), decisionErrors: load.errors,
          writeMs: stats(within(side.writes, t0, t1)), pushLagMs: stats(within(side.lag, t0, t1)), cores: cpuSplit(cpu0, cpu1, (t1 - t0) / 1000, gw.pid) },
      },
    };
    console.log(JSON.stringify(row));
    runs.push(row);
  }
  closeHttpAgent();
  const out = { when: new Date().toISOString(), machine: machine(), postgres: db.pgVersion, mode: MODE,
    load: { clients: CLIENTS, candidates: 50, replays: REPLAYS, logRows: LOG_ROWS, seconds: SECONDS }, runs };
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/replay-nomatch-${out.when.slice(0, 10)}.json`, `${JSON.stringify(out, null, 2)}\n`);
  await db.close();
}

async function main() {
  if (NOMATCH) return noMatch();
  const db = await benchLog();
  const runs: Record<string, unknown>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, feedPoolMax] of [['shared pool', '0'], ['own feed pool', '2']] as const) {
      const gw = await startGateway(db.url, { FEED_POOL_MAX: feedPoolMax, MAX_IN_FLIGHT: '100000' });
      await decisions(gw.url); // warm-up, no replays
      const quiet = await decisions(gw.url);
      const r = replays(gw.url, REPLAYS);
      await sleep(500);
      const busy = await decisions(gw.url);
      const replayed = r.events;
      await r.stop();
      await gw.stop();
      const row = { round, feed: name, noReplays: quiet, withReplays: busy, replayEventsRead: replayed,
        p99Ratio: Math.round((busy.p99 / quiet.p99) * 100) / 100 };
      console.log(JSON.stringify(row));
      runs.push(row);
    }
  }
  closeHttpAgent();
  const out = { when: new Date().toISOString(), machine: machine(), postgres: db.pgVersion,
    load: { clients: CLIENTS, candidates: 50, replays: REPLAYS, logRows: LOG_ROWS, seconds: SECONDS }, runs };
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/replay-${out.when.slice(0, 10)}.json`, `${JSON.stringify(out, null, 2)}\n`);
  await db.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
