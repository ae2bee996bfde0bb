// `npm run bench`: decisionContext through the real HTTP server (a separate
// gateway process) while a purchase stream hits the same SKUs; closed loop at
// 16 clients for 1/50/200 candidates, open loop at fixed rates, and the SQL
// floor (the same reads straight through postgres.js) in the same run.
import fs from 'node:fs';
import os from 'node:os';
import { v7 as uuidv7 } from 'uuid';
import { createLogger } from '../src/logger.js';
import { DecisionLog, type LoggedDecision } from '../src/log/decision-log.js';
import { hasEventLists, readFacts, readState } from '../src/reads/decision-sql.js';
import { toCandidate } from '../src/schema/candidate.js';
import { sleep } from '../src/util.js';
import {
  benchDatabase, closedLoop, closeHttpAgent, cpuSnapshot, decisionQuery, secondAgent, cpuSplit, httpPost, loadAverage, machine, percentile, rssMiB, seedCatalog, skuName, startGateway,
} from './setup.js';

const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const WARMUP = 2;
const CLIENTS = Number(process.env.BENCH_CLIENTS || 16);
const HOT = 200; // the purchase stream and the candidates share these SKUs
const PURCHASES_PER_S = Number(process.env.BENCH_PURCHASES_PER_S || 200);

const QUERY = decisionQuery('D');

const post = httpPost;

let counter = 0;
function decisionBody(n: number): string {
  const i = counter++;
  const start = (i * 13) % HOT;
  const candidates = Array.from({ length: n }, (_, k) => skuName((start + k) % Math.max(HOT, n)));
  return JSON.stringify({ query: QUERY, variables: { u: `user-${i % 200}`, s: `session-${i % 200}`, c: candidates, r: 'berlin' } });
}

// Failures by cause (HTTP status and GraphQL error code), so an error count can be explained.
const failures: Record<string, number> = {};
function isOk(r: { status: number; body: string }): boolean {
  if (r.status === 200 && !r.body.includes('"errors"')) return true;
  const code = /"code":"([A-Z_]+)"/.exec(r.body)?.[1] ?? 'none';
  const key = `${r.status} ${code}`;
  failures[key] = (failures[key] ?? 0) + 1;
  return false;
}

interface Run { decisionsPerS: number; p50: number; p99: number; errors: number; count: number; coresUsed?: Record<string, number> }

function summarize(lat: number[], errors: number, seconds: number): Run {
  lat.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { decisionsPerS: r(lat.length / seconds), p50: r(percentile(lat, 50)), p99: r(percentile(lat, 99)), errors, count: lat.length };
}

let gatewayPid = 0;

/** The shared closed loop (bench/setup.ts) on one gateway, with the gateway's cores over the measured window. */
async function decisionLoop(url: string, n: number, clients: number): Promise<Run> {
  let cpu0 = cpuSnapshot();
  let t0 = 0;
  let coresUsed: ReturnType<typeof cpuSplit> | undefined;
  const send = () => post(url, decisionBody(n)).then(isOk);
  const run = await closedLoop(send, { clients, seconds: SECONDS, warmupS: WARMUP }, {
    start: () => { cpu0 = cpuSnapshot(); t0 = performance.now(); },
    end: () => { coresUsed = cpuSplit(cpu0, cpuSnapshot(), (performance.now() - t0) / 1000, gatewayPid); },
  });
  return { ...summarize(run.latenciesMs, run.errors, run.seconds), coresUsed: coresUsed! };
}

/** One answered request of an open loop, for the tail report: its latency, the gateway's Server-Timing, requests outstanding when sent. */
interface Sample { ms: number; outstanding: number; timing: Record<string, number> }

// Open loop: request i is due at start + i/rate whatever happened before;
// latency counts from the due time, so queueing shows up in the figures.
async function openLoop(url: string, n: number, rate: number, seconds = SECONDS, samples?: Sample[]): Promise<Run & { rate: number }> {
  const lat: number[] = [];
  let errors = 0;
  let outstanding = 0;
  const total = Math.round(rate * seconds);
  const start = performance.now() + 50;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const sentWith = outstanding++;
    inflight.push(post(url, decisionBody(n)).then(
      (res) => {
        outstanding--;
        if (!isOk(res)) { errors++; return; }
        const ms = performance.now() - due;
        lat.push(ms);
        samples?.push({ ms, outstanding: sentWith, timing: serverTiming(res.headers['server-timing']) });
      },
      () => { outstanding--; errors++; },
    ));
  }
  await Promise.all(inflight);
  return { rate, ...summarize(lat, errors, seconds) };
}

/** `queue;dur=1.20, wait;dur=0.40` → { queue: 1.2, wait: 0.4 } */
function serverTiming(header: string | string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of String(header ?? '').split(',')) {
    const m = /^\s*(\w+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

function purchaseStream(url: string, perSecond: number) {
  let stop = false;
  let sent = 0;
  let failed = 0;
  const batchMs: number[] = []; // each answered batch's latency, from its send
  const inflight = new Set<Promise<void>>();
  const batchesPerS = Math.min(perSecond, 50);
  const perBatch = Math.max(1, Math.round(perSecond / batchesPerS));
  const body = () => JSON.stringify({
    query: 'mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }',
    variables: { e: Array.from({ length: perBatch }, () => ({
      kind: 'PURCHASE', userId: `buyer-${sent % 50}`, sku: skuName(Math.floor(Math.random() * HOT)), quantity: 1,
    })) },
  });
  const loop = (async () => {
    const start = performance.now();
    for (let i = 0; !stop; i++) {
      const wait = start + (i * 1000) / batchesPerS - performance.now();
      if (wait > 0) await sleep(wait);
      const t0 = performance.now();
      const sending: Promise<void> = post(url, body(), { via: secondAgent }).then((r) => {
        if (isOk(r)) { sent += perBatch; batchMs.push(performance.now() - t0); } else failed++;
      }, () => { failed++; }).finally(() => inflight.delete(sending));
      inflight.add(sending);
    }
  })();
  return {
    stop: async () => {
      stop = true;
      await loop;
      // Drained before the next phase: a backlog of writes still queued on the change-log lock (shared by every
      // gateway on the database) would otherwise stall the next phase's writers, on whichever build it measures.
      await Promise.all(inflight);
      batchMs.sort((a, b) => a - b);
      const r = (x: number) => Math.round(x * 10) / 10;
      return { purchases: sent, failedBatches: failed, batchP50Ms: r(percentile(batchMs, 50)), batchP99Ms: r(percentile(batchMs, 99)) };
    },
  };
}

async function sqlFloor(db: Awaited<ReturnType<typeof benchDatabase>>, n: number, clients: number): Promise<Run> {
  const lat: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const worker = async () => {
    for (let i = 0; !stop; i++) {
      const { variables: v } = JSON.parse(decisionBody(n));
      const t0 = performance.now();
      try {
        await db.sql.begin('isolation level repeatable read read only', (tx) => Promise.all([
          readFacts(tx, { userId: v.u, sessionId: v.s, region: v.r, eventLists: true }), readState(tx, v.c),
        ]));
        if (measuring) lat.push(performance.now() - t0);
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const workers = Array.from({ length: clients }, worker);
  await sleep(WARMUP * 1000);
  measuring = true;
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  return summarize(lat, errors, elapsed);
}

// --tail: the slowest 1% of decisions at 60% of the gateway's own saturation (and at 250/s), purchases running.
const TAIL_SECONDS = Number(process.env.BENCH_TAIL_SECONDS || 20);

/** Prometheus text → cumulative bucket counts of one histogram (summed over its other labels). */
function buckets(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)![1]!;
    out[le] = (out[le] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}
/** Per-bucket (non-cumulative) counts between two scrapes. */
function histogramDelta(before: string, after: string, name: string): Record<string, number> {
  const a = buckets(after, name);
  const b = buckets(before, name);
  const out: Record<string, number> = {};
  let prev = 0;
  // Numeric order: an object lists integer-like keys ("1") before the others.
  const bound = (le: string) => (le === '+Inf' ? Infinity : Number(le));
  for (const le of Object.keys(a).sort((x, y) => bound(x) - bound(y))) {
    const cum = a[le]! - (b[le] ?? 0);
    out[`<=${le}`] = cum - prev;
    prev = cum;
  }
  return out;
}

/** Samples pg_stat_activity every 20 ms: what the gateway's busy backends wait on (Lock, LWLock, IO, Client…). */
function waitSampler(db: Awaited<ReturnType<typeof benchDatabase>>) {
  const counts: Record<string, number> = {};
  let samples = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const rows = await db.sql<{ w: string; n: number }[]>`
        select coalesce(wait_event_type || ':' || wait_event, 'CPU') as w, count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'decision-gateway' and state = 'active' group by 1`.catch(() => []);
      samples++;
      for (const r of rows) counts[r.w] = (counts[r.w] ?? 0) + r.n;
      await sleep(20);
    }
  })();
  return { stop: async () => { stop = true; await loop; return { samples, activeBackendSamplesByWait: counts }; } };
}

/** Mean of each phase (ms) over some samples; `client` is what the gateway did not see (sockets, the load generator). */
function phases(s: Sample[]) {
  const mean = (f: (x: Sample) => number) => Math.round((s.reduce((a, x) => a + f(x), 0) / Math.max(1, s.length)) * 100) / 100;
  const t = (x: Sample, k: string) => x.timing[k] ?? 0;
  return {
    count: s.length, latency: mean((x) => x.ms), outstandingAtSend: mean((x) => x.outstanding),
    client: mean((x) => x.ms - t(x, 'total')), queue: mean((x) => t(x, 'queue')), poolAndBegin: mean((x) => t(x, 'wait')),
    readsAndResolve: mean((x) => t(x, 'read')),
    commitAndSerialize: mean((x) => t(x, 'total') - t(x, 'queue') - t(x, 'wait') - t(x, 'read')),
    gc: mean((x) => t(x, 'gc')), withGcPause: s.filter((x) => t(x, 'gc') > 0).length,
  };
}

async function tailAt(db: Awaited<ReturnType<typeof benchDatabase>>, gw: Awaited<ReturnType<typeof startGateway>>, rate: number) {
  const metricsUrl = gw.url.replace(/\/graphql$/, '/metrics');
  const scrape = () => fetch(metricsUrl).then((r) => r.text());
  if (db.statStatementsOn) await db.sql`select pg_stat_statements_reset()`;
  const m0 = await scrape();
  const waits = waitSampler(db);
  const samples: Sample[] = [];
  const loadBefore = loadAverage();
  const run = await openLoop(gw.url, 50, rate, TAIL_SECONDS, samples);
  const waited = await waits.stop();
  const m1 = await scrape();
  samples.sort((a, b) => a.ms - b.ms);
  const p99 = percentile(samples.map((s) => s.ms), 99);
  const slowest = samples.filter((s) => s.ms >= p99);
  const middle = samples.slice(Math.floor(samples.length * 0.45), Math.ceil(samples.length * 0.55));
  const statements = db.statStatementsOn ? await db.sql<{ query: string; calls: number; meanMs: number; maxMs: number; stddevMs: number; totalMs: number }[]>`
    select left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 90) as query, calls::int, round(mean_exec_time::numeric, 3)::float8 as "meanMs",
           round(max_exec_time::numeric, 2)::float8 as "maxMs", round(stddev_exec_time::numeric, 3)::float8 as "stddevMs",
           round(total_exec_time::numeric, 1)::float8 as "totalMs"
    from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
    order by total_exec_time desc limit 12` : 'pg_stat_statements not available on this server';
  return {
    ...run, p99OverP50: Math.round((run.p99 / run.p50) * 100) / 100, loadAvg: [loadBefore, loadAverage()],
    attribution: { slowest1pct: phases(slowest), median10pct: phases(middle) },
    metricsDelta: {
      eventLoopDelay: histogramDelta(m0, m1, 'gateway_event_loop_delay_seconds'),
      gcPause: histogramDelta(m0, m1, 'nodejs_gc_duration_seconds'),
      snapshotWait: histogramDelta(m0, m1, 'gateway_snapshot_wait_seconds'),
    },
    postgresWaits: waited, statements,
  };
}

// BENCH_BASE_DIR: worktrees of older commits, comma-separated (node_modules in place), served side by side: saturation
// of each, then tail phases alternating builds (ABBA), each at 60% of its own saturation and at 250/s.
// BENCH_VARIANTS: more gateways of this tree with other settings, `name:KEY=v;KEY=v,name2:…` (e.g. `w1:PG_WRITE_POOL_MAX=1`).
async function tailMain() {
  const db = await benchDatabase({ statStatements: true });
  await seedCatalog(db.sql);
  const workers = process.env.WORKERS || '1';
  const base = process.env.BENCH_BASE_DIR;
  const bases = (base ?? '').split(',').filter(Boolean);
  const variants = (process.env.BENCH_VARIANTS ?? '').split(',').filter(Boolean).map((v) => {
    const [name, settings = ''] = v.split(':');
    const pairs = settings.split(';').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
    return { name: name!, cwd: undefined, env: Object.fromEntries(pairs) };
  });
  const builds: { name: string; cwd: string | undefined; env?: Record<string, string> }[] = [
    { name: 'new', cwd: undefined }, ...bases.map((cwd, i) => ({ name: bases.length > 1 ? `base${i + 1}` : 'base', cwd })), ...variants,
  ];
  const env = { PG_POOL_MAX: '16', WORKERS: workers, SERVER_TIMING: '1' };
  const gws = await Promise.all(builds.map((b) => startGateway(db.url, { ...env, ...b.env }, 'src/server.ts', b.cwd)));
  const results: Record<string, unknown> = {
    when: new Date().toISOString(), commit: process.env.BENCH_COMMIT, baseCommit: process.env.BENCH_BASE_COMMIT, machine: { ...machine(), postgres: db.pgVersion },
    settings: { rounds: process.env.BENCH_ROUNDS, tailRates: process.env.BENCH_TAIL_RATES, tailCommon: process.env.BENCH_TAIL_COMMON, seconds: SECONDS, tailSeconds: TAIL_SECONDS, clients: CLIENTS, hotSkus: HOT, purchasesPerS: PURCHASES_PER_S, gatewayWorkers: Number(workers), statStatements: db.statStatementsOn, env, builds },
  };
  // The purchase stream goes to the build under test (the write path is part of what is compared).
  const withStream = async <T>(i: number, f: () => Promise<T>) => {
    const stream = purchaseStream(gws[i]!.url, PURCHASES_PER_S);
    try { return { ...(await f()), purchaseStream: await stream.stop() }; } catch (e) { await stream.stop(); throw e; }
  };
  try {
    const saturation: Record<string, Run> = {};
    for (const [i, b] of builds.entries()) {
      gatewayPid = gws[i]!.pid;
      saturation[b.name] = await withStream(i, () => decisionLoop(gws[i]!.url, 50, CLIENTS));
      console.log(`${b.name}: saturation, 50 candidates, 16 clients:`, saturation[b.name]);
    }
    const tails: Record<string, unknown>[] = [];
    const rounds = builds.length > 1 ? Number(process.env.BENCH_ROUNDS || 2) : 1;
    // BENCH_TAIL_RATES: fixed rates instead (e.g. `50`), for a box too loaded for its saturation to mean much.
    const fixedRates = (process.env.BENCH_TAIL_RATES ?? '').split(',').filter(Boolean).map(Number);
    // BENCH_TAIL_COMMON=1: every build at 60% of the lowest saturation measured, so one box-load dip in one
    // build's saturation run does not give it an easier rate than the others.
    const lowest = Math.min(...Object.values(saturation).map((s) => s.decisionsPerS));
    const rateOf = (name: string) => Math.round((process.env.BENCH_TAIL_COMMON ? lowest : saturation[name]!.decisionsPerS) * 0.6);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => i).reverse();
      for (const i of order) {
        for (const rate of fixedRates.length ? fixedRates : [rateOf(builds[i]!.name), 250]) {
          const t = await withStream(i, () => tailAt(db, gws[i]!, rate));
          const row = { build: builds[i]!.name, round: r, ...t };
          console.log(JSON.stringify({ build: row.build, rate, p50: t.p50, p99: t.p99, p99OverP50: t.p99OverP50, errors: t.errors, loadAvg: t.loadAvg, slow: t.attribution.slowest1pct, purchases: t.purchaseStream }));
          tails.push(row);
        }
      }
    }
    Object.assign(results, { saturation, tails, failures });
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
    await db.close();
    closeHttpAgent();
  }
  fs.mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/tail-${builds.length > 1 ? 'ab-' : ''}${String(results.when).replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  if (builds.length === 1) fs.writeFileSync('bench/results/tail-latest.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

/** What the gateway's /metrics says about its decision log (written, dropped). */
async function logMetrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
  const get = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    written: get(/^gateway_decision_log_written_total\{[^}]*\} (\d+)/m),
    droppedQueueFull: get(/^gateway_decision_log_dropped_total\{reason="queue_full"[^}]*\} (\d+)/m),
    droppedWriteFailed: get(/^gateway_decision_log_dropped_total\{reason="write_failed"[^}]*\} (\d+)/m),
  };
}

/**
 * The log's own ceiling, without HTTP or GraphQL: `count` real 50-candidate
 * decisions (rows read by the decision SQL, shaped as the answer) through a
 * DecisionLog into decision_log; candidate rows per second of flushing.
 */
async function logWriterCeiling(db: Awaited<ReturnType<typeof benchDatabase>>, count: number) {
  const { variables: v } = JSON.parse(decisionBody(50));
  const [facts, states] = await db.sql.begin('isolation level repeatable read read only', (tx) => Promise.all([
    readFacts(tx, { userId: v.u, sessionId: v.s, region: v.r, eventLists: true }), readState(tx, v.c),
  ]));
  if (!hasEventLists(facts)) throw new Error('facts read without event lists');
  const candidates = states.map((s) => toCandidate(s, facts, true));
  const log = new DecisionLog({ sql: db.sql, logger: createLogger('warn'), sample: 0, queueRows: count * 50, flushMs: 3_600_000, batchRows: 10_000 });
  for (let i = 0; i < count; i++) {
    const d: LoggedDecision = {
      decisionId: uuidv7(), keyId: 'bench', userId: v.u, sessionId: v.s, region: v.r, facts, candidates,
      snapshot: { id: facts.snapshotId, readAt: facts.readAt, cursor: facts.changeCursor, source: 'PRIMARY', lagMs: 0 },
    };
    log.offer(d);
  }
  const t0 = performance.now();
  await log.flush();
  const s = (performance.now() - t0) / 1000;
  return { decisions: log.stats.writtenDecisions, rows: log.stats.writtenRows, seconds: Math.round(s * 100) / 100,
    rowsPerS: Math.round(log.stats.writtenRows / s), decisionsPerS: Math.round(log.stats.writtenDecisions / s),
    jsonBytesPerDecision: Math.round(log.stats.writtenBytes / log.stats.writtenDecisions) };
}

/**
 * BENCH_MODE=log: dc50 closed loop against three gateways that differ only in
 * DECISION_LOG_SAMPLE (0, 0.01, 1), interleaved round by round (order rotated),
 * with the purchase stream on a fourth; then the log writer's ceiling and the
 * bytes a logged 50-candidate decision takes in decision_log.
 */
async function logModes() {
  const db = await benchDatabase();
  await seedCatalog(db.sql);
  const rounds = Number(process.env.BENCH_ROUNDS || 3);
  const modes = { off: '0', sampled1pct: '0.01', all: '1' } as const;
  const gws = Object.fromEntries(await Promise.all(Object.entries(modes).map(async ([m, sample]) =>
    [m, await startGateway(db.url, { PG_POOL_MAX: '16', DECISION_LOG_SAMPLE: sample })] as const)));
  const writer = await startGateway(db.url, { PG_POOL_MAX: '4' });
  const results: Record<string, unknown> = {
    when: new Date().toISOString(), machine: { ...machine(), postgres: db.pgVersion, loadavg: os.loadavg() },
    settings: { seconds: SECONDS, warmup: WARMUP, clients: CLIENTS, rounds, purchasesPerS: PURCHASES_PER_S, modes },
  };
  try {
    const stream = purchaseStream(writer.url, PURCHASES_PER_S);
    const runs: Record<string, Run[]> = { off: [], sampled1pct: [], all: [] };
    const names = Object.keys(modes);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < names.length; k++) {
        const m = names[(r + k) % names.length]!;
        gatewayPid = gws[m]!.pid;
        const run = await decisionLoop(gws[m]!.url, 50, CLIENTS);
        runs[m]!.push(run);
        console.log(`round ${r + 1}, logging ${m}:`, run);
      }
    }
    const purchases = await stream.stop();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = Object.fromEntries(names.map((m) => [m, {
      decisionsPerS: median(runs[m]!.map((x) => x.decisionsPerS)), p50: median(runs[m]!.map((x) => x.p50)), p99: median(runs[m]!.map((x) => x.p99)),
    }]));
    const ratio = (m: string) => ({
      throughput: Math.round((summary[m]!.decisionsPerS / summary.off!.decisionsPerS) * 1000) / 1000,
      p50AddedMs: Math.round((summary[m]!.p50 - summary.off!.p50) * 100) / 100,
      p99AddedMs: Math.round((summary[m]!.p99 - summary.off!.p99) * 100) / 100,
    });
    const logs = Object.fromEntries(await Promise.all(names.map(async (m) => [m, await logMetrics(gws[m]!.url)] as const)));
    // Bytes in decision_log (heap, TOAST, primary key) per logged decision, from the 50-candidate rows the runs wrote.
    const [size] = await db.sql<{ decisions: number; totalBytes: number; rowBytes: number }[]>`
      select count(*)::int as decisions,
             (select sum(pg_total_relation_size(inhrelid))::bigint from pg_inherits where inhparent = 'decision_log'::regclass)::float8 as "totalBytes",
             coalesce(avg(pg_column_size(d.*)), 0)::float8 as "rowBytes"
      from decision_log d`;
    // How long after its snapshot a logged decision's row was written (the insert's now() − read_at), in ms.
    const [delay] = await db.sql<{ p50: number; p99: number; max: number }[]>`
      select percentile_cont(0.5) within group (order by ms) as p50, percentile_cont(0.99) within group (order by ms) as p99, max(ms) as max
      from (select extract(epoch from logged_at - read_at) * 1000 as ms from decision_log) t`;
    const ceiling = await logWriterCeiling(db, Number(process.env.BENCH_LOG_CEILING_DECISIONS || 4000));
    console.log('log writer ceiling:', ceiling);
    Object.assign(results, {
      runs, summary, vsOff: { sampled1pct: ratio('sampled1pct'), all: ratio('all') }, logs, purchaseStream: purchases, failures,
      storage: { decisions: size!.decisions, bytesPerDecision: Math.round(size!.totalBytes / Math.max(1, size!.decisions)),
        rowBytesPerDecision: Math.round(size!.rowBytes) },
      rowWrittenAfterMs: { p50: Math.round(delay!.p50), p99: Math.round(delay!.p99), max: Math.round(delay!.max) },
      logWriterCeiling: ceiling, loadavgAfter: os.loadavg(),
    });
    console.log(JSON.stringify({ summary, vsOff: results.vsOff, logs, storage: results.storage, rowWrittenAfterMs: results.rowWrittenAfterMs }, null, 2));
  } finally {
    await Promise.all([...Object.values(gws), writer].map((g) => g.stop()));
    await db.close();
    closeHttpAgent();
  }
  fs.mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/decision-log-${String(results.when).replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

async function main() {
  if (process.env.BENCH_MODE === 'log') return logModes();
  const db = await benchDatabase();
  await seedCatalog(db.sql);
  const workers = process.env.WORKERS || '1';
  const gw = await startGateway(db.url, { PG_POOL_MAX: '16', WORKERS: workers });
  gatewayPid = gw.pid;
  const results: Record<string, unknown> = {
    when: new Date().toISOString(), machine: { ...machine(), postgres: db.pgVersion },
    settings: { seconds: SECONDS, warmup: WARMUP, clients: CLIENTS, hotSkus: HOT, purchasesPerS: PURCHASES_PER_S, gatewayWorkers: Number(workers) },
  };
  try {
    const stream = purchaseStream(gw.url, PURCHASES_PER_S);
    const closed: Record<string, Run> = {};
    const only = process.env.BENCH_ONLY; // e.g. "closed50" for a quick profile run
    for (const n of only ? [50] : [1, 50, 200]) {
      closed[n] = await decisionLoop(gw.url, n, CLIENTS);
      console.log(`closed loop, ${n} candidates, ${CLIENTS} clients:`, closed[n]);
    }
    const open: Run[] = [];
    for (const rate of only ? [] : [100, 300, 1000]) {
      const r = await openLoop(gw.url, 50, rate);
      open.push(r);
      console.log(`open loop, 50 candidates, ${rate}/s:`, r);
    }
    const floor = await sqlFloor(db, 50, CLIENTS);
    console.log(`SQL floor, 50 candidates, ${CLIENTS} callers:`, floor);
    const purchases = await stream.stop();
    const gateway50 = closed[50]!;
    Object.assign(results, {
      closedLoop: closed, openLoop50: open, sqlFloor50: floor,
      gatewayOverFloorThroughput: Math.round((floor.decisionsPerS / gateway50.decisionsPerS) * 100) / 100,
      gatewayRssMiB: rssMiB(gw.pid), purchaseStream: purchases, failures,
    });
  } finally {
    await gw.stop();
    await db.close();
    closeHttpAgent();
  }
  fs.mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/decision-${String(results.when).replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync('bench/results/decision-latest.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

(process.argv.includes('--tail') ? tailMain() : main()).catch((err) => { console.error(err); process.exit(1); });
