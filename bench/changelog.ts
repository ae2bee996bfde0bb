// `npm run bench:changelog`: the cost of commit-ordering the change log. Many
// writers each commit one stock change per transaction; committed changes/s
// with the advisory lock (the product) and without it (unsafe: loses order).
import fs from 'node:fs';
import type { Sql } from '../src/db/client.js';
import { appendChanges } from '../src/live/changelog.js';
import { sleep } from '../src/util.js';
import { benchDatabase, machine } from './setup.js';

const SECONDS = Number(process.env.BENCH_SECONDS || 8);
const WRITERS = Number(process.env.BENCH_WRITERS || 16);

async function run(sql: Sql, skipCommitOrderLock: boolean): Promise<number> {
  let stop = false;
  let commits = 0;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      await sql.begin(async (tx) => {
        await tx`update sku_counters set clicks_total = clicks_total + 1 where sku = ${`cl-${w}`}`;
        await appendChanges(tx, [{ topic: 'inventory', key: `cl-${w}`, payload: { sku: `cl-${w}`, available: i, previous: i + 1 } }],
          { skipCommitOrderLock });
      });
      commits++;
    }
  };
  const t0 = performance.now();
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  await sleep(SECONDS * 1000);
  stop = true;
  await Promise.all(writers);
  return Math.round(commits / ((performance.now() - t0) / 1000));
}

const db = await benchDatabase();
await db.sql`insert into items (sku, title, category) select 'cl-' || g, 't', 'c' from generate_series(0, ${WRITERS - 1}) g`;
await db.sql`insert into sku_counters (sku) select 'cl-' || g from generate_series(0, ${WRITERS - 1}) g`;
const withLock = await run(db.sql, false);
const withoutLock = await run(db.sql, true);
const results = {
  when: new Date().toISOString(), machine: { ...machine(), postgres: db.pgVersion },
  settings: { writers: WRITERS, seconds: SECONDS, synchronousCommit: (await db.sql`show synchronous_commit`)[0]!.synchronous_commit },
  commitsPerS: { commitOrdered: withLock, unordered: withoutLock },
  ratio: Math.round((withLock / withoutLock) * 100) / 100,
};
console.log(JSON.stringify(results, null, 2));
fs.writeFileSync('bench/results/changelog-latest.json', `${JSON.stringify(results, null, 2)}\n`);
await db.close();
