// `npm run bench:replay`: decisions while clients catch up from an old cursor.
// A gateway process serves 50-candidate decisions (closed loop) while N SSE
// subscriptions replay a long change log from cursor 0 (each restarts when it
// reaches the head). The same run alternates the feed on the decisions' pool
// (FEED_POOL_MAX=0) and on a pool of its own (the default), so the box's drift
// cancels out. Figures go to bench/results/replay-<date>.json.
import fs from 'node:fs';
import { sleep } from '../src/util.js';
import { benchDatabase, closeHttpAgent, httpPost, machine, percentile, seedCatalog, skuName, startGateway } from './setup.js';

const SECONDS = Number(process.env.BENCH_SECONDS || 8);
const CLIENTS = Number(process.env.BENCH_CLIENTS || 8);
const REPLAYS = Number(process.env.BENCH_REPLAYS || 50);
const LOG_ROWS = Number(process.env.BENCH_LOG_ROWS || 100_000);
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

async function decisions(url: string) {
  const lat: number[] = [];
  let errors = 0;
  let stop = false;
  const body = JSON.stringify({ query: QUERY, variables: { c: Array.from({ length: 50 }, (_, i) => skuName(i * 3)) } });
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      const r = await httpPost(url, body).catch(() => ({ status: 0, body: '' }));
      if (r.status === 200 && !r.body.includes('"errors"')) lat.push(performance.now() - t0); else errors++;
    }
  };
  const workers = Array.from({ length: CLIENTS }, worker);
  await sleep(SECONDS * 1000);
  stop = true;
  await Promise.all(workers);
  lat.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { decisionsPerS: r(lat.length / SECONDS), p50: r(percentile(lat, 50)), p99: r(percentile(lat, 99)), errors };
}

async function main() {
  const db = await benchDatabase();
  await seedCatalog(db.sql);
  await db.sql`insert into change_log (topic, key, payload)
    select 'inventory', 'bench-' || lpad((g % 1000)::text, 4, '0'),
           jsonb_build_object('sku', 'bench-' || lpad((g % 1000)::text, 4, '0'), 'available', g, 'previous', g - 1, 'cause', 'SET_INVENTORY')
    from generate_series(1, ${LOG_ROWS}) g`;
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
