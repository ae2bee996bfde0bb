// `npm run bench:replicas`: read replicas on one box, in ONE run. An embedded
// PostgreSQL 18 primary, BENCH_STANDBYS (1) streaming standbys of it
// (src/db/standby.ts) and two gateway processes on the same database: `primary`
// (READ_REPLICA_URLS unset) and `replicas` (READ_REPLICA_URLS = the standbys).
// A flash-sale purchase stream (one purchase per transaction on 10 hot SKUs, the
// shape of `npm run simulate`) runs on the primary throughout. Measured:
//  (a) routing overhead: closed-loop 50-candidate decisions, rounds alternating
//      primary / replicas (ABBA…), decisions/s, p50/p99, and CPU per decision of
//      the gateway, the primary's Postgres and the standbys' Postgres;
//  (b) replica lag: the lagMs REPLICA answers carry, the standby's replay lag as
//      the primary's walsender measures it (pg_stat_replication.replay_lag), and a
//      probe: a purchase committed on the primary until a standby snapshot shows it;
//  (c) read-your-writes: a purchase through the replica gateway, then a decision
//      with its consistency token: time from the mutation's answer to the decision's,
//      against the same decision without a token, and how often it was the primary.
// On 2 cores the standbys share the CPU with the primary and the gateway: this
// measures costs per decision and overheads, not scale-out.
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { startStandby, type Standby } from '../src/db/standby.js';
import { sleep } from '../src/util.js';
import { recordEvents } from '../src/writes/events.js';
import { freePort, withDatabase } from '../test/global-setup.js';
import {
  benchDatabase, closeHttpAgent, cpuSnapshot, httpPost, machine, percentile, seedCatalog, skuName, startGateway, type Gateway,
} from './setup.js';

const num = (name: string, fallback: number) => Number(process.env[name] || fallback);
const S = {
  standbys: num('BENCH_STANDBYS', 1),
  roundSeconds: num('BENCH_SECONDS', 8),
  warmupSeconds: 2,
  pairs: num('BENCH_PAIRS', 3),
  clients: num('BENCH_CLIENTS', 16),
  candidates: 50,
  purchasesPerS: num('BENCH_PURCHASES_PER_S', 150),
  hotSkus: 10,
  rywSeconds: num('BENCH_RYW_SECONDS', 15),
  rywClients: 4,
  // The replica gateway's MAX_REPLICA_LAG_MS. Above the default (500) so that on a CPU-starved box, where the lag
  // checks run late and the bound is coarse, decisions still reach the standbys and the bound's own spread shows.
  maxLagMs: num('BENCH_MAX_LAG_MS', 2000),
};

const QUERY = `query D($u: ID!, $s: ID, $c: [ID!]!, $r: String, $t: String) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r, after: $t) {
    snapshot { id source lagMs }
    user { id segment flags { kind } recentPurchases { sku at } }
    session { intent lastEventAt recentEvents { kind sku at } }
    candidates { sku eligible reasons item { title category } inventory { available reserved }
      velocity { salesLast5s salesLast5m clicksLast30s } price { amountMinor currency } policy { kind } fulfillment { nextSlotAt } }
  }
}`;
const RECORD = `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted stock { sku available } } }`;

interface Answer { data?: { decisionContext: { snapshot: { source: 'PRIMARY' | 'REPLICA'; lagMs: number };
  candidates: { sku: string; inventory: { available: number } | null }[] } }; errors?: unknown[] }

let counter = 0;
/** 50 candidates, the 10 hot SKUs (the ones being bought) among them. */
function decisionVars(token?: string) {
  const i = counter++;
  const start = S.hotSkus + ((i * 13) % 900);
  const c = [...Array.from({ length: S.hotSkus }, (_, k) => skuName(k)), ...Array.from({ length: S.candidates - S.hotSkus }, (_, k) => skuName(start + k))];
  return { u: `user-${i % 200}`, s: `session-${i % 200}`, c, r: 'berlin', t: token ?? null };
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: r2(percentile(s, 50)), p99: r2(percentile(s, 99)), max: r2(s.at(-1) ?? NaN) };
};

/** The postmaster's pid of a data directory (first line of postmaster.pid). */
const postmasterPid = (dataDir: string) => Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

/** CPU seconds per role between two /proc snapshots: a gateway, the primary's Postgres, the standbys' Postgres, this process. */
function cpuByRole(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>, roles: Record<string, number[]>) {
  const out: Record<string, number> = Object.fromEntries(Object.keys(roles).map((k) => [k, 0]));
  out.other = 0;
  for (const [pid, a] of after) {
    const used = a.cpuS - (before.get(pid)?.cpuS ?? 0);
    const role = Object.entries(roles).find(([, pids]) => pids.includes(pid) || pids.includes(a.ppid))?.[0] ?? 'other';
    out[role]! += used;
  }
  return out;
}

/**
 * One purchase per transaction on the hot SKUs at a steady rate, straight on the primary (no gateway CPU); at most
 * 16 in flight: a tick that finds them all busy is skipped and counted (the box could not keep the rate).
 */
function purchaseStream(sql: postgres.Sql, perSecond: number) {
  let stop = false;
  let done = 0;
  let skipped = 0;
  const failed: Record<string, number> = {};
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    const t0 = performance.now();
    for (let i = 0; !stop; i++) {
      const wait = t0 + (i * 1000) / perSecond - performance.now();
      if (wait > 1) await sleep(wait);
      if (inflight.size >= 16) { skipped++; continue; }
      const p = recordEvents(sql, [{ kind: 'PURCHASE', userId: `buyer-${i % 50}`, sessionId: null, sku: skuName(i % S.hotSkus), quantity: 1 }])
        .then(() => { done++; }, (err: { code?: string }) => { const k = err.code ?? 'other'; failed[k] = (failed[k] ?? 0) + 1; })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  })();
  return { get done() { return done; }, async stop() { stop = true; await loop; await Promise.all(inflight); return { purchases: done, skippedTicks: skipped, failed }; } };
}

interface Round { gateway: string; decisionsPerS: number; p50: number; p99: number; errors: number; replicaShare: number; purchasesPerS: number;
  cpuMsPerDecision: Record<string, number>; cores: Record<string, number> }

async function round(gw: Gateway, name: string, roles: Record<string, number[]>, lagMs: number[], purchases: () => number): Promise<Round> {
  const lat: number[] = [];
  let errors = 0;
  let replica = 0;
  let measuring = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const body = JSON.stringify({ query: QUERY, variables: decisionVars() });
      const t0 = performance.now();
      const res = await httpPost(gw.url, body).catch(() => ({ status: 0, body: '' }));
      if (!measuring) continue;
      const a = res.status === 200 ? (JSON.parse(res.body) as Answer) : undefined;
      if (!a?.data || a.errors) { errors++; continue; }
      lat.push(performance.now() - t0);
      const snap = a.data.decisionContext.snapshot;
      if (snap.source === 'REPLICA') { replica++; lagMs.push(snap.lagMs); }
    }
  };
  const workers = Array.from({ length: S.clients }, worker);
  await sleep(S.warmupSeconds * 1000);
  measuring = true;
  const t0 = performance.now();
  const cpu0 = cpuSnapshot();
  const bought0 = purchases();
  await sleep(S.roundSeconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuByRole(cpu0, cpuSnapshot(), roles);
  const purchasesPerS = r2((purchases() - bought0) / elapsed);
  stop = true;
  await Promise.all(workers);
  const s = stats(lat);
  return {
    gateway: name, decisionsPerS: r2(lat.length / elapsed), p50: s.p50, p99: s.p99, errors, replicaShare: r2(replica / Math.max(1, lat.length)), purchasesPerS,
    cpuMsPerDecision: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, r2((v * 1000) / Math.max(1, lat.length))])),
    cores: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, r2(v / elapsed)])),
  };
}

/**
 * The standbys' lag while the rounds run: the walsender's replay_lag (WAL flushed on the primary until the standby
 * reports it applied), and a probe: every 200 ms a purchase of a SKU of its own on the primary, then each
 * standby polled (every ms) until a snapshot there shows it — commit to visible on the standby.
 */
async function lagMonitor(primary: postgres.Sql, standbys: postgres.Sql[]) {
  const replayLag: number[] = [];
  const visible: number[] = [];
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      const rows = await primary<{ ms: number | null }[]>`
        select (extract(epoch from replay_lag) * 1000)::float8 as ms from pg_stat_replication`.catch(() => []);
      for (const r of rows) if (r.ms !== null) replayLag.push(r.ms);
      await sleep(100);
    }
  })();
  const probeSku = skuName(999); // never a candidate, never in the purchase stream
  const prober = (async () => {
    while (!stop) {
      const res = await recordEvents(primary, [{ kind: 'PURCHASE', userId: 'probe', sessionId: null, sku: probeSku, quantity: 1 }]).catch(() => undefined);
      const left = res?.stock[0]?.available;
      const t0 = performance.now();
      if (left !== undefined) {
        await Promise.all(standbys.map(async (s) => {
          while (!stop) {
            const [r] = await s<{ available: number }[]>`select available from inventory where sku = ${probeSku}`;
            if (r!.available <= left) { visible.push(performance.now() - t0); return; }
            await sleep(1);
          }
        }));
      }
      await sleep(200);
    }
  })();
  return { async stop() { stop = true; await Promise.all([sampler, prober]); return { replayLagMs: stats(replayLag), commitToVisibleMs: stats(visible) }; } };
}

/** Read-your-writes: purchase through the replica gateway, then a decision with (or, alternately, without) its token. */
async function readYourWrites(gw: Gateway) {
  const withToken = { ms: [] as number[], primary: 0, stale: 0 };
  const without = { ms: [] as number[], primary: 0, stale: 0 };
  let errors = 0;
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const sku = skuName(w); // a hot SKU of its own per client: the answer must show its own purchase
      const m = await httpPost(gw.url, JSON.stringify({ query: RECORD, variables: { e: [{ kind: 'PURCHASE', userId: `ryw-${w}`, sku, quantity: 1 }] } }));
      const mut = JSON.parse(m.body) as { data?: { recordEvents: { stock: { available: number }[] } }; extensions?: { consistencyToken?: string } };
      const token = mut.extensions?.consistencyToken;
      if (!mut.data || !token) { errors++; continue; }
      const written = mut.data.recordEvents.stock[0]!.available;
      const useToken = i % 2 === 0;
      const t0 = performance.now();
      const d = await httpPost(gw.url, JSON.stringify({ query: QUERY, variables: { ...decisionVars(useToken ? token : undefined), c: [sku] } }));
      const ms = performance.now() - t0;
      const a = JSON.parse(d.body) as Answer;
      if (!a.data || a.errors) { errors++; continue; }
      const into = useToken ? withToken : without;
      into.ms.push(ms);
      if (a.data.decisionContext.snapshot.source === 'PRIMARY') into.primary++;
      // Others buy the hot SKUs too: an answer is stale if it shows more stock than this purchase left.
      if (a.data.decisionContext.candidates[0]!.inventory!.available > written) into.stale++;
    }
  };
  const workers = Array.from({ length: S.rywClients }, (_, w) => worker(w));
  await sleep(S.rywSeconds * 1000);
  stop = true;
  await Promise.all(workers);
  const summary = (x: typeof withToken) => ({ ...stats(x.ms), primaryShare: r2(x.primary / Math.max(1, x.ms.length)), stale: x.stale });
  return { withToken: summary(withToken), withoutToken: summary(without), errors };
}

async function main() {
  const db = await benchDatabase({ embedded: true });
  const server = db.server!;
  const base = path.resolve('.data', `bench-replicas-${process.pid}`);
  const standbys: Standby[] = [];
  const gateways: Gateway[] = [];
  const monitors: postgres.Sql[] = [];
  const results: Record<string, unknown> = { when: new Date().toISOString(), machine: { ...machine(), postgres: db.pgVersion }, settings: S };
  try {
    await seedCatalog(db.sql);
    for (let i = 0; i < S.standbys; i++) standbys.push(await startStandby(server, { dataDir: path.join(base, `standby-${i}`), port: await freePort() }));
    const dbName = new URL(db.url).pathname.slice(1);
    const standbyUrls = standbys.map((s) => withDatabase(s.url, dbName));
    const common = { PG_POOL_MAX: '16', WORKERS: '1' };
    const onPrimary = await startGateway(db.url, common);
    gateways.push(onPrimary);
    const onReplicas = await startGateway(db.url, { ...common, READ_REPLICA_URLS: standbyUrls.join(','), MAX_REPLICA_LAG_MS: String(S.maxLagMs) });
    gateways.push(onReplicas);
    const roles = {
      gateway: [onPrimary.pid, onReplicas.pid], primaryPostgres: [postmasterPid(server.dataDir)],
      standbyPostgres: standbys.map((s) => postmasterPid(s.dataDir)), loadGenerator: [process.pid],
    };
    const loadAvg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
    results.loadAverageBefore = loadAvg();

    const stream = purchaseStream(db.sql, S.purchasesPerS);
    monitors.push(...standbyUrls.map((u) => postgres(u, { max: 1, onnotice: () => {} })));
    const lag = await lagMonitor(db.sql, monitors);

    // The cores the purchase stream, replication and the lag probes cost with no decisions at all: subtracted to get
    // each server's CPU per decision it serves.
    await sleep(S.warmupSeconds * 1000);
    const idle0 = cpuSnapshot();
    const idleT0 = performance.now();
    const idleBought0 = stream.done;
    await sleep(S.roundSeconds * 1000);
    const idleS = (performance.now() - idleT0) / 1000;
    const idlePurchasesPerS = r2((stream.done - idleBought0) / idleS);
    const idleCores = Object.fromEntries(Object.entries(cpuByRole(idle0, cpuSnapshot(), roles)).map(([k, v]) => [k, r2(v / idleS)]));
    console.log(`no decisions (purchase stream at ${idlePurchasesPerS}/s and probes only), cores:`, idleCores);

    // (a) and (b): alternating rounds, ABBA so a drift of the box hits both alike.
    const rounds: Round[] = [];
    const answerLag: number[] = [];
    for (let i = 0; i < S.pairs * 2; i++) {
      const replicasTurn = [1, 2].includes(i % 4);
      const r = await round(replicasTurn ? onReplicas : onPrimary, replicasTurn ? 'replicas' : 'primary', roles, answerLag, () => stream.done);
      rounds.push(r);
      console.log(`${r.gateway}: ${r.decisionsPerS}/s p50 ${r.p50} p99 ${r.p99} ms, on replicas ${r.replicaShare}, errors ${r.errors}, CPU ms/decision`, r.cpuMsPerDecision);
    }
    // (c) with the purchase stream still on.
    const ryw = await readYourWrites(onReplicas);
    console.log('read-your-writes:', ryw);
    const replayLag = await lag.stop();
    const purchases = await stream.stop();

    const by = (g: string) => rounds.filter((r) => r.gateway === g);
    const mean = (xs: number[]) => r2(xs.reduce((a, b) => a + b, 0) / xs.length);
    const side = (g: string) => ({
      decisionsPerS: mean(by(g).map((r) => r.decisionsPerS)), p50: mean(by(g).map((r) => r.p50)), p99: mean(by(g).map((r) => r.p99)),
      cpuMsPerDecision: Object.fromEntries(Object.keys(by(g)[0]!.cpuMsPerDecision).map((k) => [k, mean(by(g).map((r) => r.cpuMsPerDecision[k]!))])),
    });
    const a = side('primary');
    const b = side('replicas');
    // CPU per decision each server serves (ms), an estimate: a round's cores minus what its purchase rate cost in the
    // no-decision phase (the box cannot keep the stream's rate, so it differs per round), over the decisions served.
    // Reads on the primary from the primary rounds; reads on a standby from the replica rounds.
    const perServed = (rs: Round[], role: string, share: (r: Round) => number) => mean(rs.map((r) =>
      ((r.cores[role]! - (idleCores[role]! * r.purchasesPerS) / Math.max(1, idlePurchasesPerS)) * 1000) / Math.max(1, r.decisionsPerS * share(r))));
    const served = {
      gatewayMs: mean(rounds.map((r) => ((r.cores.gateway! - idleCores.gateway!) * 1000) / r.decisionsPerS)),
      gatewayMsPrimaryRounds: mean(by('primary').map((r) => ((r.cores.gateway! - idleCores.gateway!) * 1000) / r.decisionsPerS)),
      gatewayMsReplicaRounds: mean(by('replicas').map((r) => ((r.cores.gateway! - idleCores.gateway!) * 1000) / r.decisionsPerS)),
      primaryPostgresMs: perServed(by('primary'), 'primaryPostgres', () => 1),
      standbyPostgresMs: perServed(by('replicas'), 'standbyPostgres', (r) => r.replicaShare),
    };
    Object.assign(results, {
      rounds,
      routing: {
        primary: a, replicas: b,
        throughputRatio: r2(b.decisionsPerS / a.decisionsPerS), p50Ratio: r2(b.p50 / a.p50), p99Ratio: r2(b.p99 / a.p99),
        gatewayCpuMsPerDecisionDelta: r2(b.cpuMsPerDecision.gateway! - a.cpuMsPerDecision.gateway!),
        idleCores, idlePurchasesPerS, cpuMsPerServedDecision: served,
        note: 'same box: the standbys share 2 cores with the primary, the gateways and this load generator',
      },
      lag: { answerLagMs: stats(answerLag), ...replayLag },
      readYourWrites: ryw,
      purchaseStream: purchases,
      loadAverageAfter: loadAvg(),
    });
  } finally {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(monitors.map((m) => m.end()));
    for (const s of standbys) await s.remove().catch(() => {});
    await db.close();
    fs.rmSync(base, { recursive: true, force: true });
    closeHttpAgent();
  }
  fs.mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/replicas-${String(results.when).replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync('bench/results/replicas-latest.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify({ routing: results.routing, lag: results.lag, readYourWrites: results.readYourWrites }, null, 2));
  console.log(`\nwrote ${file}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
