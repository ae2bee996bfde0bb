// `npm run bench:reads`: what each of the decision's read statements costs, without HTTP or GraphQL: the
// Postgres backend's CPU (from /proc) and this process's CPU (the driver and the decoding) per call, each call
// in its own REPEATABLE READ READ ONLY transaction on one connection (`empty`: the transaction alone), variants
// interleaved in rounds (order reversed every round), medians. Same catalog as bench:peer (bench/setup.ts).
// BENCH_BASE_DIR: a worktree of an older commit; its readFacts/readState run as `… base` in the same rounds.
// Env: BENCH_ROUNDS (5), BENCH_CALLS (1000 per variant per round).
import fs from 'node:fs';
import path from 'node:path';
import { createSql, type Queryable } from '../src/db/client.js';
import * as current from '../src/reads/decision-sql.js';
import { benchDatabase, loadAverage, machine, seedCatalog, skuName } from './setup.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const CALLS = Number(process.env.BENCH_CALLS || 1000);

type Reads = Pick<typeof current, 'readFacts' | 'readState'>;

function backendCpuS(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function main() {
  const baseDir = process.env.BENCH_BASE_DIR;
  const base: Reads | undefined = baseDir ? await import(path.resolve(baseDir, 'src/reads/decision-sql.ts')) : undefined;
  const db = await benchDatabase();
  await seedCatalog(db.sql);
  await db.sql`analyze`;
  const sql = createSql(db.url, { poolMax: 1, connectTimeoutSeconds: 5, statementTimeoutMs: 30_000 });
  const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const pid = row!.pid;
  const skus = (n: number, i: number) => Array.from({ length: n }, (_, k) => skuName((i * 13 + k) % 200));
  const key = (i: number) => ({ userId: `user-${i % 200}`, sessionId: `session-${i % 200}`, region: 'berlin' });
  const builds: [string, Reads][] = [['', current], ...(base ? [[' base', base] as [string, Reads]] : [])];
  const variants: Record<string, (tx: Queryable, i: number) => Promise<unknown>> = { empty: async () => {} };
  for (const [suffix, r] of builds) {
    // The base build's readFacts ignores eventLists (it always reads the lists).
    variants[`facts${suffix}`] = (tx, i) => r.readFacts(tx, { ...key(i), eventLists: false });
    if (!suffix) variants['facts with event lists'] = (tx, i) => r.readFacts(tx, { ...key(i), eventLists: true });
    variants[`state 1${suffix}`] = (tx, i) => r.readState(tx, skus(1, i));
    variants[`state 50${suffix}`] = (tx, i) => r.readState(tx, skus(50, i));
  }
  const samples: Record<string, { postgres: number[]; node: number[] }> = {};
  const loads: number[][] = [loadAverage()];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const names = Object.keys(variants);
      for (const name of round % 2 ? names.reverse() : names) {
        const fn = variants[name]!;
        for (let i = 0; i < 50; i++) await sql.begin('isolation level repeatable read read only', (tx) => fn(tx, i));
        const pg0 = backendCpuS(pid);
        const node0 = process.cpuUsage();
        for (let i = 0; i < CALLS; i++) await sql.begin('isolation level repeatable read read only', (tx) => fn(tx, i));
        const node = process.cpuUsage(node0);
        const s = (samples[name] ??= { postgres: [], node: [] });
        s.postgres.push(((backendCpuS(pid) - pg0) * 1000) / CALLS);
        s.node.push((node.user + node.system) / 1000 / CALLS);
      }
      loads.push(loadAverage());
      console.log(`round ${round + 1}/${ROUNDS}, load`, loadAverage());
    }
  } finally {
    await sql.end();
    await db.close();
  }
  const perCall = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, {
    postgresMs: r3(median(s.postgres)), nodeMs: r3(median(s.node)),
    postgresRounds: s.postgres.map(r3), nodeRounds: s.node.map(r3),
  }]));
  console.table(Object.fromEntries(Object.entries(perCall).map(([k, v]) => [k, { postgresMs: v.postgresMs, nodeMs: v.nodeMs }])));
  const results = {
    when: new Date().toISOString(), commit: process.env.BENCH_COMMIT, baseCommit: process.env.BENCH_BASE_COMMIT,
    machine: { ...machine(), postgres: db.pgVersion }, settings: { rounds: ROUNDS, callsPerRound: CALLS }, loadAverages: loads,
    note: 'per call, each in its own snapshot transaction (BEGIN and COMMIT included: see `empty`)', perCall,
  };
  fs.mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/reads-${results.when.replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
