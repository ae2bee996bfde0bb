// `npm run bench`: decisionContext through the real HTTP server (a separate
// gateway process) while a purchase stream hits the same SKUs; closed loop at
// 16 clients for 1/50/200 candidates, open loop at fixed rates, and the SQL
// floor (the same reads straight through postgres.js) in the same run.
import fs from 'node:fs';
import { readFacts, readState } from '../src/reads/decision-sql.js';
import { sleep } from '../src/util.js';
import {
  benchDatabase, closeHttpAgent, cpuSnapshot, cpuSplit, httpPost, machine, percentile, rssMiB, seedCatalog, skuName, startGateway,
} from './setup.js';

const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const WARMUP = 2;
const CLIENTS = Number(process.env.BENCH_CLIENTS || 16);
const HOT = 200; // the purchase stream and the candidates share these SKUs
const PURCHASES_PER_S = Number(process.env.BENCH_PURCHASES_PER_S || 200);

const QUERY = `query D($u: ID!, $s: ID, $c: [ID!]!, $r: String) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r) {
    snapshot { id readAt }
    user { id segment flags { kind } recentPurchases { sku at } }
    session { intent lastEventAt recentEvents { kind sku at } }
    candidates { sku eligible reasons item { title category } inventory { available reserved }
      velocity { salesLast5s salesLast5m clicksLast30s } price { amountMinor currency } policy { kind } fulfillment { nextSlotAt } }
  }
}`;

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

async function closedLoop(url: string, n: number, clients: number): Promise<Run> {
  const lat: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      const res = await post(url, decisionBody(n)).catch((e: Error) => ({ status: 0, body: `"code":"${e.message.replace(/\W/g, '_').toUpperCase().slice(0, 40)}"` }));
      if (!measuring) continue;
      if (isOk(res)) lat.push(performance.now() - t0); else errors++;
    }
  };
  const workers = Array.from({ length: clients }, worker);
  await sleep(WARMUP * 1000);
  measuring = true;
  const t0 = performance.now();
  const cpu0 = cpuSnapshot();
  await sleep(SECONDS * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const coresUsed = cpuSplit(cpu0, cpuSnapshot(), elapsed, gatewayPid);
  stop = true;
  await Promise.all(workers);
  return { ...summarize(lat, errors, elapsed), coresUsed };
}

// Open loop: request i is due at start + i/rate whatever happened before;
// latency counts from the due time, so queueing shows up in the figures.
async function openLoop(url: string, n: number, rate: number): Promise<Run & { rate: number }> {
  const lat: number[] = [];
  let errors = 0;
  const total = Math.round(rate * SECONDS);
  const start = performance.now() + 50;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push(post(url, decisionBody(n)).then(
      (res) => { if (isOk(res)) lat.push(performance.now() - due); else errors++; },
      () => { errors++; },
    ));
  }
  await Promise.all(inflight);
  return { rate, ...summarize(lat, errors, SECONDS) };
}

function purchaseStream(url: string, perSecond: number) {
  let stop = false;
  let sent = 0;
  let failed = 0;
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
      void post(url, body()).then((r) => { if (isOk(r)) sent += perBatch; else failed++; }, () => { failed++; });
    }
  })();
  return { stop: async () => { stop = true; await loop; return { purchases: sent, failedBatches: failed }; } };
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
          readFacts(tx, { userId: v.u, sessionId: v.s, region: v.r }), readState(tx, v.c),
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


async function main() {
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
      closed[n] = await closedLoop(gw.url, n, CLIENTS);
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

main().catch((err) => { console.error(err); process.exit(1); });
