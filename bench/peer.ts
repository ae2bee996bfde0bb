// `npm run bench:peer`: the gateway's full decision (facts, intent, eligibility,
// one snapshot for everything) against PostGraphile 5 serving the same candidate
// signals (stock, price, velocity from the same rings, a held flag) from one SQL
// function (bench/peer/candidates.sql) on the same database. Each server is its
// own process with a 16-connection pool and the same planner settings; rounds
// alternate gateway and peer (ABBA, so drift cancels) at 50 and 1 candidates;
// requests/s is the median of the rounds; CPU per request is split into each
// Node process and its Postgres backends (by application_name).
// Env: BENCH_ROUNDS (5), BENCH_SECONDS (8), BENCH_CLIENTS (16), WORKERS (gateway, default its own);
// BENCH_BASE_DIR: a worktree of an older commit, served as a third side (`base`) for an A/B in the same rounds;
// BENCH_BASE_ENV ("K=V,K=V") gives that side settings of its own.
import fs from 'node:fs';
import {
  backendPids, benchDatabase, closeHttpAgent, closedLoop, cpuSnapshot, httpPost, loadAverage, machine, percentile,
  processCpuS, seedCatalog, skuName, startGateway, type Gateway,
} from './setup.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const SECONDS = Number(process.env.BENCH_SECONDS || 8);
const WARMUP = 2;
const CLIENTS = Number(process.env.BENCH_CLIENTS || 16);
const SIZES = [50, 1];
const HOT = 200;

const GATEWAY_QUERY = `query D($u: ID!, $s: ID, $c: [ID!]!, $r: String) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r) {
    snapshot { id }
    session { intent }
    candidates { sku eligible inventory { available reserved } price { amountMinor currency }
      velocity { salesLast5s salesLast5m clicksLast30s } policy { kind } }
  }
}`;
const PEER_QUERY = `query P($c: [String]!) {
  candidateSignalsList(skus: $c) { sku available reserved amountMinor currency salesLast5S salesLast5M clicksLast30S held }
}`;

let counter = 0;
function candidates(n: number): { i: number; skus: string[] } {
  const i = counter++;
  const start = (i * 13) % HOT;
  return { i, skus: Array.from({ length: n }, (_, k) => skuName((start + k) % HOT)) };
}
const gatewayBody = (n: number) => {
  const { i, skus } = candidates(n);
  return JSON.stringify({ query: GATEWAY_QUERY, variables: { u: `user-${i % 200}`, s: `session-${i % 200}`, c: skus, r: 'berlin' } });
};
const peerBody = (n: number) => JSON.stringify({ query: PEER_QUERY, variables: { c: candidates(n).skus } });
const ok = (r: { status: number; body: string }) => r.status === 200 && !r.body.includes('"errors"');

interface Side { name: 'gateway' | 'peer' | 'base'; server: Gateway; app: string; body: (n: number) => string }

interface Phase {
  side: string; candidates: number; round: number; requestsPerS: number; p50: number; p99: number; errors: number;
  nodeCpuMsPerRequest: number; postgresCpuMsPerRequest: number; loadAvg: number[];
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

async function phase(db: Awaited<ReturnType<typeof benchDatabase>>, side: Side, n: number, round: number): Promise<Phase> {
  let cpu0 = cpuSnapshot();
  let pg0: number[] = [];
  let cpuNode = 0;
  let cpuPg = 0;
  const res = await closedLoop(() => httpPost(side.server.url, side.body(n)).then(ok), { clients: CLIENTS, seconds: SECONDS, warmupS: WARMUP }, {
    start: async () => { pg0 = await backendPids(db.sql, side.app); cpu0 = cpuSnapshot(); },
    end: async () => {
      const cpu1 = cpuSnapshot();
      cpuNode = processCpuS(cpu0, cpu1, [side.server.pid]);
      // Backends opened during the window count from their start; the pool is full after the warm-up.
      const pgNow = await backendPids(db.sql, side.app);
      let s = 0;
      for (const pid of new Set([...pg0, ...pgNow])) s += (cpu1.get(pid)?.cpuS ?? 0) - (cpu0.get(pid)?.cpuS ?? 0);
      cpuPg = s;
    },
  });
  const lat = res.latenciesMs.sort((a, b) => a - b);
  const count = Math.max(1, lat.length);
  return {
    side: side.name, candidates: n, round, requestsPerS: r2(lat.length / res.seconds), p50: r2(percentile(lat, 50)), p99: r2(percentile(lat, 99)),
    errors: res.errors, nodeCpuMsPerRequest: r2((cpuNode * 1000) / count), postgresCpuMsPerRequest: r2((cpuPg * 1000) / count), loadAvg: loadAverage(),
  };
}

/** Both must answer the same signals for the same candidates, or the comparison means nothing. */
async function assertEquivalent(gateway: Side, peer: Side): Promise<void> {
  const skus = [...Array.from({ length: 48 }, (_, k) => skuName(k * 7)), 'no-such-sku', skuName(7 * 20)]; // held SKUs, a held category, an unknown SKU
  const g = JSON.parse((await httpPost(gateway.server.url, JSON.stringify({ query: GATEWAY_QUERY, variables: { u: 'user-1', s: 'session-1', c: skus, r: 'berlin' } }))).body);
  const p = JSON.parse((await httpPost(peer.server.url, JSON.stringify({ query: PEER_QUERY, variables: { c: skus } }))).body);
  if (g.errors || p.errors) throw new Error(`equivalence check failed: ${JSON.stringify(g.errors ?? p.errors)}`);
  const gs = g.data.decisionContext.candidates.map((c: any) => JSON.stringify([c.sku, c.inventory?.available ?? null, c.inventory?.reserved ?? null,
    c.price?.amountMinor ?? null, c.price?.currency ?? null, c.velocity.salesLast5s, c.velocity.salesLast5m,
    c.velocity.clicksLast30s, c.policy.length > 0]));
  const ps = p.data.candidateSignalsList.map((c: any) => JSON.stringify([c.sku, c.available, c.reserved, c.amountMinor, c.currency,
    c.salesLast5S, c.salesLast5M, c.clicksLast30S, c.held]));
  const differ = gs.map((x: string, i: number) => (x === ps[i] ? null : `${x} vs ${ps[i]}`)).filter(Boolean);
  if (differ.length || gs.length !== ps.length) throw new Error(`gateway and peer answer differently: ${differ.slice(0, 3).join('; ')}`);
  if (!ps.some((x: string) => x.endsWith('true]'))) throw new Error('equivalence check saw no held candidate');
}

async function main() {
  const db = await benchDatabase();
  await seedCatalog(db.sql);
  await db.sql.unsafe(fs.readFileSync('bench/peer/candidates.sql', 'utf8'));
  await db.sql`analyze`;
  const env = { PG_POOL_MAX: '16', ...(process.env.WORKERS ? { WORKERS: process.env.WORKERS } : {}) };
  const gw = await startGateway(db.url, env);
  const pe = await startGateway(db.url, { PG_POOL_MAX: '16' }, 'bench/peer/server.ts');
  const gateway: Side = { name: 'gateway', server: gw, app: 'decision-gateway', body: gatewayBody };
  const peer: Side = { name: 'peer', server: pe, app: 'peer-postgraphile', body: peerBody };
  // Both builds' backends are 'decision-gateway': a side's Postgres CPU also counts the idle build's few background reads.
  const baseDir = process.env.BENCH_BASE_DIR;
  // BENCH_BASE_ENV ("K=V,K=V"): settings for the base side alone (e.g. WORKERS=1 against the new default).
  const baseEnv = Object.fromEntries((process.env.BENCH_BASE_ENV || '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
  const bs = baseDir ? await startGateway(db.url, { ...env, ...baseEnv }, 'src/server.ts', baseDir) : undefined;
  const sides = bs ? [gateway, { name: 'base', server: bs, app: 'decision-gateway', body: gatewayBody } as Side, peer] : [gateway, peer];
  const phases: Phase[] = [];
  try {
    await assertEquivalent(gateway, peer);
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of SIZES) {
        // ABBA: the order of the sides reverses every round.
        for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
          const ph = await phase(db, side, n, round);
          phases.push(ph);
          console.log(JSON.stringify(ph));
        }
      }
    }
  } finally {
    await Promise.all([gw.stop(), pe.stop(), bs?.stop()]);
    await db.close();
    closeHttpAgent();
  }
  const summary: Record<string, unknown> = {};
  for (const n of SIZES) {
    const of = (side: string) => phases.filter((p) => p.side === side && p.candidates === n);
    const med = (side: string, k: keyof Phase) => r2(median(of(side).map((p) => p[k] as number)));
    const ratios = of('gateway').map((g) => r2(g.requestsPerS / of('peer').find((p) => p.round === g.round)!.requestsPerS));
    const cpu = (side: string) => med(side, 'nodeCpuMsPerRequest') + med(side, 'postgresCpuMsPerRequest');
    const ab = bs ? {
      newOverBase: r2(med('gateway', 'requestsPerS') / med('base', 'requestsPerS')),
      perRoundNewOverBase: of('gateway').map((g) => r2(g.requestsPerS / of('base').find((p) => p.round === g.round)!.requestsPerS)),
      basePerS: med('base', 'requestsPerS'), baseCpuMsPerRequest: { node: med('base', 'nodeCpuMsPerRequest'), postgres: med('base', 'postgresCpuMsPerRequest') },
      baseCpuOverNewCpu: r2(cpu('base') / cpu('gateway')), p50Base: med('base', 'p50'), p99Base: med('base', 'p99'),
    } : {};
    summary[n] = {
      ...ab,
      gatewayPerS: med('gateway', 'requestsPerS'), peerPerS: med('peer', 'requestsPerS'),
      gatewayOverPeer: r2(med('gateway', 'requestsPerS') / med('peer', 'requestsPerS')), perRoundRatios: ratios,
      medianOfRoundRatios: r2(median(ratios)),
      // On a CPU-bound shared box, requests/s is capacity over CPU per request: this ratio is the steadier one.
      cpuCapacityRatio: r2((med('peer', 'nodeCpuMsPerRequest') + med('peer', 'postgresCpuMsPerRequest'))
        / (med('gateway', 'nodeCpuMsPerRequest') + med('gateway', 'postgresCpuMsPerRequest'))),
      cpuMsPerRequest: {
        gatewayNode: med('gateway', 'nodeCpuMsPerRequest'), gatewayPostgres: med('gateway', 'postgresCpuMsPerRequest'),
        peerNode: med('peer', 'nodeCpuMsPerRequest'), peerPostgres: med('peer', 'postgresCpuMsPerRequest'),
      },
      p50: { gateway: med('gateway', 'p50'), peer: med('peer', 'p50') }, p99: { gateway: med('gateway', 'p99'), peer: med('peer', 'p99') },
      errors: { gateway: of('gateway').reduce((s, p) => s + p.errors, 0), peer: of('peer').reduce((s, p) => s + p.errors, 0) },
    };
  }
  const results = {
    when: new Date().toISOString(), commit: process.env.BENCH_COMMIT, machine: { ...machine(), postgres: db.pgVersion },
    baseCommit: process.env.BENCH_BASE_COMMIT, baseEnv, settings: { rounds: ROUNDS, seconds: SECONDS, warmup: WARMUP, clients: CLIENTS, poolMax: 16, gatewayWorkers: env.WORKERS ?? 'default', peer: 'postgraphile 5.1.5 amber preset' },
    summary, phases,
  };
  console.log(JSON.stringify(summary, null, 2));
  fs.mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/peer-${String(results.when).replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync('bench/results/peer-latest.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
