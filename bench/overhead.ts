// `npm run bench:overhead`: what tracing and rate limits cost per decision. Four
// gateway processes on one database, loaded in turn (A, B, C, D, A, B, …) with
// the same closed loop, so the box's drift hits each alike:
//   baseline      neither on
//   tracing       OTEL_EXPORTER_OTLP_ENDPOINT set, spans exported over OTLP/HTTP to a local sink that discards them
//   limits-pg     RATE_LIMITS='*=1000000/s' (never refuses; every decision is counted) in Postgres
//   limits-redis  the same, counted in Redis (RATE_LIMIT_REDIS_URL; left out when no Redis answers)
// Auth is off, so every decision counts against one key: the hot-row case of one BFF's key.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { sleep } from '../src/util.js';
import { benchDatabase, closeHttpAgent, cpuSnapshot, httpPost, machine, percentile, seedCatalog, skuName, startGateway, type Gateway } from './setup.js';

const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 6);
const CLIENTS = Number(process.env.BENCH_CLIENTS || 16);
const CANDIDATES = 50;
const REDIS_URL = process.env.RATE_LIMIT_REDIS_URL || 'redis://127.0.0.1:6379';

const QUERY = `query D($u: ID!, $s: ID, $c: [ID!]!) { decisionContext(userId: $u, sessionId: $s, candidates: $c, region: "berlin") {
  user { segment } session { intent } candidates { sku eligible reasons inventory { available } price { amountMinor } policy { kind } } } }`;

let counter = 0;
const body = () => {
  const i = counter++;
  const c = Array.from({ length: CANDIDATES }, (_, k) => skuName((i * 13 + k) % 200));
  return JSON.stringify({ query: QUERY, variables: { u: `user-${i % 200}`, s: `session-${i % 200}`, c } });
};

/** The closed loop on one gateway, with that process's CPU per decision (steadier than throughput on a shared box). */
async function closedLoop(url: string, seconds: number, pid = 0) {
  const cpuOf = () => (pid ? cpuSnapshot().get(pid)?.cpuS ?? 0 : 0);
  const cpu0 = cpuOf();
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await httpPost(url, body()).catch(() => ({ status: 0, body: '' }));
      if (r.status === 200 && !r.body.includes('"errors"')) lat.push(performance.now() - t0); else errors++;
    }
  }));
  lat.sort((a, b) => a - b);
  const gatewayCpuMsPerDecision = Math.round(((cpuOf() - cpu0) * 1000 / Math.max(1, lat.length)) * 1000) / 1000;
  return { gatewayCpuMsPerDecision, decisionsPerS: Math.round((lat.length / seconds) * 10) / 10, p50: Math.round(percentile(lat, 50) * 100) / 100, p99: Math.round(percentile(lat, 99) * 100) / 100, errors };
}

const reachable = (url: string) => new Promise<boolean>((resolve) => {
  const u = new URL(url);
  const s = net.connect(Number(u.port || 6379), u.hostname, () => { s.end(); resolve(true); });
  s.on('error', () => resolve(false));
});

async function main() {
  // The OTLP sink: accepts every export and drops it (what the exporter costs, not a collector).
  let spansBytes = 0;
  const sink = http.createServer((req, res) => {
    req.on('data', (d: Buffer) => { spansBytes += d.length; });
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as net.AddressInfo).port}`;

  const db = await benchDatabase();
  await seedCatalog(db.sql);
  const variants: Record<string, Record<string, string>> = {
    baseline: {},
    tracing: { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl },
    'limits-pg': { RATE_LIMITS: '*=1000000/s' },
  };
  if (await reachable(REDIS_URL)) variants['limits-redis'] = { RATE_LIMITS: '*=1000000/s', RATE_LIMIT_REDIS_URL: REDIS_URL };
  const gateways: Record<string, Gateway> = {};
  for (const [name, env] of Object.entries(variants)) gateways[name] = await startGateway(db.url, { PG_POOL_MAX: '16', ...env });
  const runs: Record<string, ReturnType<typeof closedLoop> extends Promise<infer R> ? R[] : never> = {};
  const load = [os.loadavg()];
  try {
    for (const gw of Object.values(gateways)) await closedLoop(gw.url, 2); // warm-up: JIT, plans, pools
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, gw] of Object.entries(gateways)) {
        const r = await closedLoop(gw.url, SECONDS, gw.pid);
        (runs[name] ??= []).push(r);
        console.log(`round ${round + 1} ${name.padEnd(13)} ${r.decisionsPerS} decisions/s p50 ${r.p50} ms p99 ${r.p99} ms gateway CPU ${r.gatewayCpuMsPerDecision} ms/decision errors ${r.errors}`);
        await sleep(500);
      }
      load.push(os.loadavg());
    }
  } finally {
    await Promise.all(Object.values(gateways).map((g) => g.stop()));
    await db.close();
    closeHttpAgent();
    sink.close();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const base = runs.baseline!;
  const summary = Object.fromEntries(Object.entries(runs).map(([name, rs]) => {
    const perS = mean(rs.map((r) => r.decisionsPerS));
    return [name, {
      meanDecisionsPerS: Math.round(perS * 10) / 10,
      ratioToBaseline: Math.round((perS / mean(base.map((r) => r.decisionsPerS))) * 1000) / 1000,
      // Per round against that round's baseline, to see the spread the box's noise leaves.
      roundRatios: rs.map((r, i) => Math.round((r.decisionsPerS / base[i]!.decisionsPerS) * 1000) / 1000),
      gatewayCpuMsPerDecision: Math.round(mean(rs.map((r) => r.gatewayCpuMsPerDecision)) * 1000) / 1000,
      cpuRatioToBaseline: Math.round((mean(rs.map((r) => r.gatewayCpuMsPerDecision)) / mean(base.map((r) => r.gatewayCpuMsPerDecision))) * 1000) / 1000,
      meanP50: Math.round(mean(rs.map((r) => r.p50)) * 100) / 100,
      p50DeltaMs: Math.round((mean(rs.map((r) => r.p50)) - mean(base.map((r) => r.p50))) * 100) / 100,
      errors: rs.reduce((a, r) => a + r.errors, 0),
    }];
  }));
  const results = {
    what: 'Tracing and rate-limit overhead per decision (50 candidates), four gateways loaded in turn, one run',
    when: new Date().toISOString(), machine: { ...machine(), postgres: db.pgVersion },
    settings: { seconds: SECONDS, rounds: ROUNDS, clients: CLIENTS, candidates: CANDIDATES, variants },
    loadAverage: load.map((l) => l.map((x) => Math.round(x * 100) / 100)),
    otlpBytesExported: spansBytes, summary, runs,
  };
  console.log(JSON.stringify(summary, null, 2));
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/overhead-${results.when.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => { console.error(err); process.exit(1); });
