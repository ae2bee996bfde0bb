// `npm run bench:writes`: large batches through the real HTTP gateway (a
// separate process). upsertItems (n new SKUs, then the same n with new stock)
// and recordEvents (n purchases over the n SKUs) for n = 1,000 / 3,000 /
// 10,000, a few repetitions each: ms per call and per 1,000 rows, so growth
// past linear shows. The same run serves a baseline from a second gateway
// process on the same database: this working tree with the write path
// (src/writes/items.ts, events.ts) as of BENCH_BASELINE_REF, the commit before
// the linear rewrite; the two alternate so the box's drift cancels out. The
// current code runs at the default statement timeout (PG_STATEMENT_TIMEOUT_MS
// 2,000: the property is that it succeeds), the baseline at 120 s so its times
// can be measured, plus one try per operation at the default to record how it
// fails. Figures go to bench/results/writes-<date>.json.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { freePort } from '../test/global-setup.js';
import { benchDatabase, httpPost, machine, startGateway, type Gateway } from './setup.js';

const SIZES = (process.env.BENCH_SIZES || '1000,3000,10000').split(',').map(Number);
const REPS = Number(process.env.BENCH_REPS || 3);
// e10acf2: the last commit before the fix (items.ts and events.ts as reported). '' skips the baseline.
const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? 'e10acf2';
const BASELINE_TIMEOUT_MS = 120_000;

const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { count stockChanges { sku previous } } }`;
const RECORD = `mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted stock { sku previous } } }`;
const OPS = ['upsertNew', 'upsertChange', 'recordPurchases'] as const;
type Op = typeof OPS[number];

const skuOf = (prefix: string, i: number) => `${prefix}-${String(i).padStart(5, '0')}`;
const body = (op: Op, prefix: string, n: number, available = op === 'upsertNew' ? 1000 : 2000): string => {
  if (op === 'recordPurchases') {
    return JSON.stringify({ query: RECORD, variables: { events: Array.from({ length: n }, (_, i) => ({
      kind: 'PURCHASE', userId: `user-${i % 100}`, sessionId: `${prefix}-s${i % 100}`, sku: skuOf(prefix, i), quantity: 1 })) } });
  }
  return JSON.stringify({ query: UPSERT, variables: { items: Array.from({ length: n }, (_, i) => ({
    sku: skuOf(prefix, i), title: `Item ${i}`, category: `cat-${i % 20}`, priceMinor: 500 + i, currency: 'EUR', available })) } });
};

const post = (url: string, payload: string) => httpPost(url, payload, { fresh: true });

/** One call: ms, or the error code it failed with. */
async function call(url: string, payload: string): Promise<{ ms: number; error?: string }> {
  const t0 = performance.now();
  const res = await post(url, payload);
  const ms = Math.round(performance.now() - t0);
  const parsed = JSON.parse(res.body) as { errors?: { extensions?: { code?: string } }[] };
  const error = parsed.errors?.length ? String(parsed.errors[0]!.extensions?.code ?? res.status) : res.status === 200 ? undefined : String(res.status);
  return { ms, error };
}

const BASELINE_FILES = ['src/writes/items.ts', 'src/writes/events.ts'];

/** This tree with BASELINE_FILES as of `ref`, served like startGateway's process (node_modules shared). */
async function baselineGateway(ref: string, databaseUrl: string, env: Record<string, string>): Promise<Gateway> {
  const dir = baselineDir;
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['src', 'drizzle', 'patches', 'package.json', 'tsconfig.json']) fs.cpSync(f, path.join(dir, f), { recursive: true });
    for (const f of BASELINE_FILES) fs.writeFileSync(path.join(dir, f), execFileSync('git', ['show', `${ref}:${f}`]));
    fs.symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'));
  }
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: dir,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('/graphql')) resolve(); });
    child.on('exit', (code) => reject(new Error(`baseline gateway exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/graphql`, pid: child.pid!, child,
    stop: () => new Promise((r) => { child.on('exit', () => r()); child.kill('SIGTERM'); }),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number) => Math.round(x * 10) / 10;

const baselineDir = path.resolve('.data', `bench-writes-baseline-${process.pid}`);
const db = await benchDatabase();
const defaultTimeout = loadConfig({}).statementTimeoutMs;
const variants: Record<string, Gateway> = {};
try {
  variants.current = await startGateway(db.url, { PG_STATEMENT_TIMEOUT_MS: String(defaultTimeout) });
  if (BASELINE_REF) variants.baseline = await baselineGateway(BASELINE_REF, db.url, { PG_STATEMENT_TIMEOUT_MS: String(BASELINE_TIMEOUT_MS) });
  // Warm-up: plans, JIT, connections.
  for (const [name, gw] of Object.entries(variants)) for (const op of OPS) await call(gw.url, body(op, `warm-${name}`, 100));

  const runs: { variant: string; op: Op; rows: number; rep: number; ms: number; error?: string }[] = [];
  for (const n of SIZES) {
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? Object.keys(variants) : Object.keys(variants).reverse();
      for (const variant of order) {
        const prefix = `${variant}-${n}-${rep}`;
        for (const op of OPS) {
          const r = await call(variants[variant]!.url, body(op, prefix, n));
          runs.push({ variant, op, rows: n, rep, ...r });
          console.log(`${variant.padEnd(8)} ${op.padEnd(15)} ${String(n).padStart(6)} rows  ${String(r.ms).padStart(6)} ms${r.error ? `  ${r.error}` : ''}`);
        }
      }
    }
  }

  // How the baseline fails at the default statement timeout (one try each, at the largest size).
  let baselineAtDefaultTimeout: Record<string, { ms: number; error?: string }> | undefined;
  if (BASELINE_REF) {
    const gw = await baselineGateway(BASELINE_REF, db.url, { PG_STATEMENT_TIMEOUT_MS: String(defaultTimeout) });
    try {
      const n = Math.max(...SIZES);
      baselineAtDefaultTimeout = {};
      // New SKUs; then SKUs the baseline at 120 s created above, with stock changed again; then purchases of them.
      baselineAtDefaultTimeout.upsertNew = await call(gw.url, body('upsertNew', `baseline-default-${n}`, n));
      baselineAtDefaultTimeout.upsertChange = await call(gw.url, body('upsertChange', `baseline-${n}-0`, n, 3000));
      baselineAtDefaultTimeout.recordPurchases = await call(gw.url, body('recordPurchases', `baseline-${n}-0`, n));
    } finally {
      await gw.stop();
    }
  }

  const summary: Record<string, Record<string, Record<string, { msPerCall: number; msPer1kRows: number; calls: number[]; errors: string[] }>>> = {};
  for (const variant of Object.keys(variants)) {
    summary[variant] = {};
    for (const op of OPS) {
      summary[variant]![op] = {};
      for (const n of SIZES) {
        const these = runs.filter((r) => r.variant === variant && r.op === op && r.rows === n);
        const ok = these.filter((r) => !r.error).map((r) => r.ms);
        const ms = ok.length ? median(ok) : NaN;
        summary[variant]![op]![n] = { msPerCall: ms, msPer1kRows: round1((ms / n) * 1000), calls: these.map((r) => r.ms), errors: these.flatMap((r) => (r.error ? [r.error] : [])) };
      }
    }
  }
  // ms per 1,000 rows at the largest size over the smallest: 1 is linear.
  const growth = Object.fromEntries(Object.entries(summary).map(([v, ops]) => [v, Object.fromEntries(OPS.map((op) => [op,
    round1(ops[op]![Math.max(...SIZES)]!.msPer1kRows / ops[op]![Math.min(...SIZES)]!.msPer1kRows)]))]));
  const speedup = summary.baseline ? Object.fromEntries(OPS.map((op) => [op, Object.fromEntries(SIZES.map((n) => [n,
    round1(summary.baseline![op]![n]!.msPerCall / summary.current![op]![n]!.msPerCall)]))])) : undefined;

  const results = {
    when: new Date().toISOString(),
    machine: { ...machine(), postgres: db.pgVersion, loadAverage: (await import('node:os')).loadavg().map(round1) },
    settings: {
      sizes: SIZES, reps: REPS, current: { statementTimeoutMs: defaultTimeout, code: 'working tree' },
      baseline: BASELINE_REF ? { ref: BASELINE_REF, commit: execFileSync('git', ['rev-parse', BASELINE_REF]).toString().trim(), files: BASELINE_FILES, statementTimeoutMs: BASELINE_TIMEOUT_MS } : null,
      upsertNew: 'n SKUs that do not exist yet', upsertChange: 'the same n SKUs, every available changed',
      recordPurchases: 'n PURCHASE events, one per SKU (n distinct SKUs), 100 users/sessions',
    },
    msPer1kRows: Object.fromEntries(Object.entries(summary).map(([v, ops]) => [v, Object.fromEntries(OPS.map((op) => [op,
      Object.fromEntries(SIZES.map((n) => [n, ops[op]![n]!.msPer1kRows]))]))])),
    growthLargestOverSmallest: growth,
    baselineOverCurrent: speedup,
    baselineAtDefaultTimeout,
    summary,
  };
  console.log(JSON.stringify({ msPer1kRows: results.msPer1kRows, growthLargestOverSmallest: growth, baselineOverCurrent: speedup, baselineAtDefaultTimeout }, null, 2));
  fs.writeFileSync(`bench/results/writes-${results.when.slice(0, 10)}.json`, `${JSON.stringify(results, null, 2)}\n`);
} finally {
  for (const gw of Object.values(variants)) await gw.stop();
  fs.rmSync(baselineDir, { recursive: true, force: true });
  await db.close();
}
