// `npm run bench:cpu-ab`: gateway CPU per decision for two variants of one
// mechanism, inside ONE process, in alternating blocks, so the box's drift and
// the other processes' noise fall on both alike. Requests go through the app's
// fetch (yoga's full HTTP handling, no socket); Node CPU is process.cpuUsage() of
// this process (the gateway's Node side only), Postgres CPU that of the pool's backends.
// Variants (BENCH_AB), a = without, b = with: `als` — every request inside an
// AsyncLocalStorage.run (as the logger did for request ids); `pipeline` — the snapshot
// transaction's pipelined BEGIN/COMMIT (one-statement attempt off in both); `onestatement`
// — a decision as one statement (b) against the pipelined transaction (a).
// Env: BENCH_BLOCKS (10 per variant), BENCH_BLOCK_REQUESTS (400), BENCH_CLIENTS (8), BENCH_CANDIDATES (50).
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import { createApp } from '../src/app.js';
import { createSql } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { setOneStatementFirst, setSnapshotPipeline } from '../src/reads/snapshot.js';
import { backendPids, benchDatabase, cpuSnapshot, decisionQuery, loadAverage, machine, processCpuS, seedCatalog, skuName } from './setup.js';

const BLOCKS = Number(process.env.BENCH_BLOCKS || 10);
const PER_BLOCK = Number(process.env.BENCH_BLOCK_REQUESTS || 400);
const CLIENTS = Number(process.env.BENCH_CLIENTS || 8);
const CANDIDATES = Number(process.env.BENCH_CANDIDATES || 50);
const AB = process.env.BENCH_AB || 'als';

const db = await benchDatabase();
await seedCatalog(db.sql);
const sql = createSql(db.url, { poolMax: 16, connectTimeoutSeconds: 2, statementTimeoutMs: 5000 });
const app = createApp({ sql, logger: createLogger('silent'), production: true });
const query = decisionQuery('D');
const als = new AsyncLocalStorage<string>();

let n = 0;
const body = () => {
  const i = n++;
  const start = (i * 13) % 200;
  return JSON.stringify({ query, variables: {
    u: `user-${i % 200}`, s: `session-${i % 200}`, r: 'berlin',
    c: Array.from({ length: CANDIDATES }, (_, k) => skuName((start + k) % 200)),
  } });
};
const decide = async () => {
  const res = await app.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() });
  const text = await res.text();
  if (res.status !== 200 || text.includes('"errors"')) throw new Error(text.slice(0, 300));
};

async function block(variantB: boolean): Promise<{ node: number; postgres: number }> {
  if (AB === 'als') { if (!variantB) als.disable(); }
  else if (AB === 'pipeline') { setOneStatementFirst(false); setSnapshotPipeline(variantB); }
  else { setSnapshotPipeline(true); setOneStatementFirst(variantB); }
  let left = PER_BLOCK;
  const pids = await backendPids(db.sql, 'decision-gateway');
  const p0 = cpuSnapshot();
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (left-- > 0) {
      if (AB === 'als' && variantB) await als.run(String(left), decide);
      else await decide();
    }
  }));
  const c1 = process.cpuUsage(c0);
  const pg = processCpuS(p0, cpuSnapshot(), new Set([...pids, ...await backendPids(db.sql, 'decision-gateway')]));
  return { node: (c1.user + c1.system) / 1000 / PER_BLOCK, postgres: (pg * 1000) / PER_BLOCK };
}

await block(true); await block(false); // warm-up: JIT, pool, plans
const a: { node: number; postgres: number }[] = [];
const b: { node: number; postgres: number }[] = [];
for (let i = 0; i < BLOCKS; i++) {
  // ABBA: neither variant always runs first
  if (i % 2) { b.push(await block(true)); a.push(await block(false)); } else { a.push(await block(false)); b.push(await block(true)); }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const side = (xs: typeof a) => ({
  node: xs.map((x) => r3(x.node)), postgres: xs.map((x) => r3(x.postgres)),
  medianNode: r3(median(xs.map((x) => x.node))), medianPostgres: r3(median(xs.map((x) => x.postgres))),
  medianTotal: r3(median(xs.map((x) => x.node + x.postgres))),
});
const result = {
  when: new Date().toISOString(), machine: machine(), loadAvg: loadAverage(), ab: AB,
  settings: { blocks: BLOCKS, perBlock: PER_BLOCK, clients: CLIENTS, candidates: CANDIDATES },
  cpuMsPerDecision: { a: side(a), b: side(b) },
  bOverA: { node: r3(median(b.map((x) => x.node)) / median(a.map((x) => x.node))),
    postgres: r3(median(b.map((x) => x.postgres)) / median(a.map((x) => x.postgres))),
    total: r3(median(b.map((x) => x.node + x.postgres)) / median(a.map((x) => x.node + x.postgres))) },
  perBlockTotalBOverA: a.map((x, i) => r3((b[i]!.node + b[i]!.postgres) / (x.node + x.postgres))),
};
console.log(JSON.stringify(result, null, 2));
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync(`bench/results/cpu-ab-${AB}-${result.when.replace(/[:.]/g, '-')}.json`, JSON.stringify(result, null, 2));
await sql.end({ timeout: 2 });
await db.close();
process.exit(0);
