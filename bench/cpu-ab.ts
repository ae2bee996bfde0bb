// `npm run bench:cpu-ab`: gateway CPU per decision for two variants of one
// mechanism, inside ONE process, in alternating blocks, so the box's drift and
// the other processes' noise fall on both alike. Requests go through the app's
// fetch (yoga's full HTTP handling, no socket); CPU is process.cpuUsage() of
// this process, which runs the gateway's Node side only (Postgres is another process).
// Variants (BENCH_AB): `als` — every request inside an AsyncLocalStorage.run (as the
// logger did for request ids) or not; `pipeline` — the snapshot transaction with
// and without the pipelined BEGIN/COMMIT.
// Env: BENCH_BLOCKS (10 per variant), BENCH_BLOCK_REQUESTS (400), BENCH_CLIENTS (8), BENCH_CANDIDATES (50).
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import { createApp } from '../src/app.js';
import { createSql } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { setSnapshotPipeline } from '../src/reads/snapshot.js';
import { benchDatabase, decisionQuery, loadAverage, machine, seedCatalog, skuName } from './setup.js';

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

async function block(variantB: boolean): Promise<number> {
  if (AB === 'als') { if (!variantB) als.disable(); }
  else setSnapshotPipeline(variantB);
  let left = PER_BLOCK;
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (left-- > 0) {
      if (AB === 'als' && variantB) await als.run(String(left), decide);
      else await decide();
    }
  }));
  const c1 = process.cpuUsage(c0);
  return (c1.user + c1.system) / 1000 / PER_BLOCK;
}

await block(true); await block(false); // warm-up: JIT, pool, plans
const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < BLOCKS; i++) {
  // ABBA: neither variant always runs first
  if (i % 2) { b.push(await block(true)); a.push(await block(false)); } else { a.push(await block(false)); b.push(await block(true)); }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const result = {
  when: new Date().toISOString(), machine: machine(), loadAvg: loadAverage(), ab: AB,
  settings: { blocks: BLOCKS, perBlock: PER_BLOCK, clients: CLIENTS, candidates: CANDIDATES },
  cpuMsPerDecision: { a: a.map(r3), b: b.map(r3), medianA: r3(median(a)), medianB: r3(median(b)) },
  bOverA: r3(median(b) / median(a)),
  perBlockBOverA: a.map((x, i) => r3(b[i]! / x)),
};
console.log(JSON.stringify(result, null, 2));
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync(`bench/results/cpu-ab-${AB}-${result.when.replace(/[:.]/g, '-')}.json`, JSON.stringify(result, null, 2));
await sql.end({ timeout: 2 });
await db.close();
process.exit(0);
