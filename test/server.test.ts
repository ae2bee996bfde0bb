// `npm start` as a process: embedded by default with demo data on a fresh data
// directory, never seeding a DATABASE_URL database, draining on SIGTERM and exiting 0.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from './global-setup.js';
import { ownDatabase } from './helpers.js';
import { sleep } from './live-helpers.js';

const dataDir = path.resolve('.data', `server-${process.pid}-${Date.now()}`);
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function start(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const url = `http://localhost:${port}/graphql`;
  for (let i = 0; i < 300 && !out.includes(url); i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    await sleep(100);
  }
  expect(out).toContain(url);
  return { child, url, output: () => out };
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
const post = (url: string, query: string) => fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }),
}).then((r) => r.json() as Promise<any>);

const DEMO = `{ decisionContext(userId: "u-alice", sessionId: "s-alice-1", candidates: ["sku-espresso", "sku-kettle", "sku-drone"], region: "berlin") {
  session { intent } candidates { sku eligible reasons } } }`;

describe('npm start', () => {
  it('starts embedded PostgreSQL with the demo data, serves GraphiQL, and drains on SIGTERM', async () => {
    const pgPort = await freePort();
    const { child, url } = await start({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort) });
    const d = (await post(url, DEMO)).data.decisionContext;
    expect(d.session.intent).toBe('CONSIDERING');
    expect(d.candidates.map((c: any) => c.reasons)).toEqual([[], ['OUT_OF_STOCK'], ['QUALITY_HOLD']]);
    const skus = (await post(url, `{ decisionContext(userId: "u", candidates: ["nope", "keep-me"]) { candidates { item { sku } } } }`))
      .data.decisionContext.candidates;
    expect(skus).toEqual([{ item: null }, { item: null }]);
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toMatch(/graphiql/i);

    // Hold the SKU's row lock so a write is surely in flight when SIGTERM lands.
    const pg = postgres(`postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`, { max: 1 });
    const code = exited(child);
    let inFlight: Promise<any> | undefined;
    await pg.begin(async (tx) => {
      await tx`select 1 from sku_counters where sku = 'sku-mug' for update`;
      inFlight = post(url, `mutation { setInventory(sku: "sku-mug", available: 7) { available } }`);
      await sleep(300);
      child.kill('SIGTERM');
      await sleep(300);
    });
    await pg.end();
    expect((await inFlight!).data.setInventory.available).toBe(7);
    expect(await code).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
  });

  it('never seeds a DATABASE_URL database', async () => {
    const { child, url } = await start({ DATABASE_URL: inject('databaseUrl') });
    const res = await post(url, `{ decisionContext(userId: "u-alice", candidates: ["sku-espresso"]) { candidates { item { sku } } } }`);
    const code = exited(child);
    child.kill('SIGINT');
    expect(await code).toBe(0);
    expect(res.data.decisionContext.candidates).toEqual([{ item: null }]);
  });

  it('WORKERS=2 runs two gateway processes on one port, each with its own change listener', async () => {
    const db = await ownDatabase();
    const { child, url } = await start({ DATABASE_URL: db.url, WORKERS: '2' });
    const pg = postgres(db.url, { max: 1 });
    // The change feed's LISTEN (the key store listens on a channel of its own).
    const listeners = async () => (await pg`select count(*)::int as n from pg_stat_activity
      where datname = current_database() and query ilike 'listen%change_log%'`)[0]!.n;
    for (let i = 0; i < 50 && (await listeners()) < 2; i++) await sleep(100);
    expect(await listeners()).toBe(2);
    const answers = await Promise.all(Array.from({ length: 20 }, () =>
      post(url, `{ decisionContext(userId: "u", candidates: ["x"]) { candidates { reasons } } }`)));
    expect(answers.every((a) => a.data.decisionContext.candidates[0].reasons[0] === 'UNKNOWN_ITEM')).toBe(true);
    const code = exited(child);
    child.kill('SIGTERM');
    expect(await code).toBe(0);
    await pg.end();
    await db.drop();
  });
});
