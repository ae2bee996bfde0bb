// A/B for "an operation of meta fields opens no transaction": `{ __typename }` (what load balancers and
// client health checks send) through this build and BENCH_BASE_DIR's, 16 clients, alternating rounds.
// `node --import tsx bench/meta-ab.ts` with BENCH_BASE_DIR set.
import fs from 'node:fs';
import { benchDatabase, closeHttpAgent, closedLoop, httpPost, loadAverage, machine, startGateway } from './setup.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS || 4);
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const body = JSON.stringify({ query: '{ __typename }' });

async function main() {
  const base = process.env.BENCH_BASE_DIR;
  if (!base) throw new Error('set BENCH_BASE_DIR to a worktree of the base commit');
  const db = await benchDatabase();
  const builds = [
    { name: 'new', gw: await startGateway(db.url, { PG_POOL_MAX: '16' }) },
    { name: 'base', gw: await startGateway(db.url, { PG_POOL_MAX: '16' }, 'src/server.ts', base) },
  ];
  const rounds: { build: string; round: number; perS: number; loadAvg: number[] }[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
        const res = await closedLoop(() => httpPost(b.gw.url, body).then((x) => x.status === 200 && x.body.includes('"Query"')),
          { clients: 16, seconds: SECONDS, warmupS: 1 });
        rounds.push({ build: b.name, round: r, perS: Math.round(res.latenciesMs.length / res.seconds), loadAvg: loadAverage() });
        console.log(JSON.stringify(rounds.at(-1)));
      }
    }
  } finally {
    await Promise.all(builds.map((b) => b.gw.stop()));
    await db.close();
    closeHttpAgent();
  }
  const ratios = rounds.filter((x) => x.build === 'new').map((n) => Math.round((n.perS / rounds.find((b) => b.build === 'base' && b.round === n.round)!.perS) * 100) / 100);
  const out = { when: new Date().toISOString(), commit: process.env.BENCH_COMMIT, baseCommit: process.env.BENCH_BASE_COMMIT, machine: machine(), rounds, newOverBasePerRound: ratios };
  fs.writeFileSync(`bench/results/meta-ab-${out.when.slice(0, 10)}.json`, `${JSON.stringify(out, null, 2)}\n`);
  console.log(ratios);
}
main().catch((e) => { console.error(e); process.exit(1); });
