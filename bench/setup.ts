// Shared by the benchmarks: a fresh database (on DATABASE_URL's server or an
// embedded one), a catalog, and the gateway as a separate process.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { createSql, type Sql } from '../src/db/client.js';
import { startEmbedded, type EmbeddedServer } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { recordEvents } from '../src/writes/events.js';
import { upsertItems } from '../src/writes/items.js';
import { setFulfillment, setPolicyFlag } from '../src/writes/policy.js';
import { freePort, withDatabase } from '../test/global-setup.js';

export interface BenchDb { url: string; sql: Sql; pgVersion: string; server?: EmbeddedServer; close(): Promise<void> }

/**
 * `embedded`: always an embedded server, whatever DATABASE_URL says (bench:replicas starts standbys of it).
 * `statStatements`: pg_stat_statements for per-statement Postgres time (preloaded in the embedded
 * server; on DATABASE_URL's server only if it already preloads it). `statStatementsOn` says if it worked.
 */
export async function benchDatabase(opts: { embedded?: boolean; statStatements?: boolean } = {}): Promise<BenchDb & { statStatementsOn: boolean }> {
  const statStatements = opts.statStatements ?? false;
  let embedded: EmbeddedServer | undefined;
  let admin = opts.embedded ? undefined : process.env.DATABASE_URL;
  const dataDir = path.resolve('.data', `bench-${process.pid}`); // one cluster per run: runs never collide
  if (!admin) {
    const postgresFlags = statStatements ? ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track_utility=on'] : [];
    embedded = await startEmbedded({ dataDir, port: await freePort(), postgresFlags });
    admin = embedded.url;
  }
  const name = `bench_${Date.now()}`;
  const a = postgres(admin, { max: 1, onnotice: () => {} });
  await a.unsafe(`create database ${name}`);
  const url = withDatabase(admin, name);
  await migrate(url);
  const sql = createSql(url, { poolMax: 20, connectTimeoutSeconds: 5, statementTimeoutMs: 30_000 });
  const [v] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
  let statStatementsOn = false;
  if (statStatements) {
    statStatementsOn = await sql`create extension if not exists pg_stat_statements`.then(() => sql`select pg_stat_statements_reset()`).then(() => true, () => false);
  }
  return {
    url, sql, pgVersion: v!.v, server: embedded, statStatementsOn,
    async close() {
      await sql.end();
      await a.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await a.end();
      await embedded?.stop();
      if (embedded) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The benchmarks' 50-candidate decision: every signal a ranking service would read. */
export const decisionQuery = (name: string) => `query ${name}($u: ID!, $s: ID, $c: [ID!]!, $r: String) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r) {
    snapshot { id readAt }
    user { id segment flags { kind } recentPurchases { sku at } }
    session { intent lastEventAt recentEvents { kind sku at } }
    candidates { sku eligible reasons item { title category } inventory { available reserved }
      velocity { salesLast5s salesLast5m clicksLast30s } price { amountMinor currency } policy { kind } fulfillment { nextSlotAt } }
  }
}`;

export const skuName = (i: number) => `bench-${String(i).padStart(4, '0')}`;

/** 1,000 SKUs in 20 categories, 200 users with sessions and history, a region, some flags. */
export async function seedCatalog(sql: Sql, skus = 1000): Promise<void> {
  const all = Array.from({ length: skus }, (_, i) => ({
    sku: skuName(i), title: `Bench item ${i}`, category: `cat-${i % 20}`,
    priceMinor: 500 + i, currency: 'EUR', available: 1_000_000,
  }));
  await upsertItems(sql, all);
  await setFulfillment(sql, 'berlin', new Date(Date.now() + 3600_000), 0.4, 90);
  for (let i = 0; i < 10; i++) await setPolicyFlag(sql, 'SKU', skuName(i * 37), 'QUALITY_HOLD', true, 'bench');
  await setPolicyFlag(sql, 'CATEGORY', 'cat-7', 'RISK_GATE', true, 'bench');
  await sql`insert into users (id, segment) select 'user-' || g, 'seg-' || (g % 5) from generate_series(0, 199) g`;
  const history = Array.from({ length: 200 * 15 }, (_, i) => ({
    kind: (['VIEW', 'CLICK', 'VIEW', 'ADD_TO_CART', 'PURCHASE'] as const)[i % 5]!,
    userId: `user-${i % 200}`, sessionId: `session-${i % 200}`, sku: skuName((i * 7) % skus), quantity: 1,
  }));
  await recordEvents(sql, history);
}

export interface Gateway { url: string; pid: number; child: ChildProcess; stop(): Promise<void> }

/** A gateway process (or, with `script`, another server that prints its /graphql URL when ready; `cwd`: another worktree's build). */
export async function startGateway(databaseUrl: string, env: Record<string, string> = {}, script = 'src/server.ts', cwd?: string): Promise<Gateway> {
  const port = await freePort();
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS || '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('/graphql')) resolve(); });
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  return {
    url, pid: child.pid!, child,
    stop: () => new Promise((r) => { child.on('exit', () => r()); child.kill('SIGTERM'); }),
  };
}

export function machine() {
  return {
    cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, platform: `${os.platform()} ${os.release()}`,
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Resident memory of a process and its children (the gateway's workers). */
export function rssMiB(pid: number): number {
  const rss = (p: number) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  const children = [...cpuSnapshot()].filter(([, s]) => s.ppid === pid).map(([p]) => p);
  return Math.round([pid, ...children].reduce((sum, p) => sum + rss(p), 0) / 1024);
}

/** CPU seconds per process since boot, from /proc, to split a run's CPU by process. */
export function cpuSnapshot(): Map<number, { comm: string; ppid: number; cpuS: number }> {
  const hz = 100;
  const out = new Map<number, { comm: string; ppid: number; cpuS: number }>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(d), { comm, ppid: Number(fields[1]), cpuS: (Number(fields[11]) + Number(fields[12])) / hz });
    } catch { /* process ended */ }
  }
  return out;
}

/** Cores used per role between two snapshots: the gateway, Postgres, this load generator, the rest. */
export function cpuSplit(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>, seconds: number, gatewayPid: number) {
  const roles: Record<string, number> = { gateway: 0, postgres: 0, loadGenerator: 0, other: 0 };
  for (const [pid, a] of after) {
    const used = a.cpuS - (before.get(pid)?.cpuS ?? 0);
    const role = pid === gatewayPid || a.ppid === gatewayPid ? 'gateway' : pid === process.pid ? 'loadGenerator'
      : a.comm.startsWith('postgres') ? 'postgres' : 'other';
    roles[role]! += used;
  }
  return Object.fromEntries(Object.entries(roles).map(([k, v]) => [k, Math.round((v / seconds) * 100) / 100]));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
/**
 * A second client's sockets (e.g. a purchase stream beside decisions): sharing one agent, requests
 * the gateway holds (writes waiting their turn) took its sockets and decisions queued in this process.
 */
export const secondAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * POST a JSON body over a keep-alive agent (cheaper per request than fetch, so the load generator stays small);
 * `fresh` uses a connection of its own (a kept-alive one can be closed by the server between calls seconds apart).
 */
export function httpPost(url: string, body: string, { fresh = false, via = agent }: { fresh?: boolean; via?: http.Agent } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent: fresh ? false : via, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const closeHttpAgent = () => { agent.destroy(); secondAgent.destroy(); };

/** The box's load average (1, 5, 15 min) now: recorded with every figure, since the box is shared. */
export const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

/** CPU seconds a process and its children (a gateway's workers) used between two snapshots. */
export function processCpuS(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>, pids: Iterable<number>): number {
  const set = new Set(pids);
  let s = 0;
  for (const [pid, a] of after) {
    if (set.has(pid) || set.has(a.ppid)) s += a.cpuS - (before.get(pid)?.cpuS ?? 0);
  }
  return s;
}

/** The server pids of the backends a client holds on this database, by its application_name. */
export async function backendPids(sql: Sql, applicationName: string): Promise<number[]> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = current_database() and application_name = ${applicationName}`;
  return rows.map((r) => r.pid);
}

export interface LoopResult { latenciesMs: number[]; errors: number; seconds: number }

/**
 * Closed loop: `clients` callers each send, await and send again; `warmupS`
 * unmeasured, then `seconds` measured. `during` runs over the measured window
 * (e.g. CPU snapshots); `send` resolves true for a good answer.
 */
export async function closedLoop(send: () => Promise<boolean>, { clients, seconds, warmupS }: { clients: number; seconds: number; warmupS: number },
  during: { start?: () => void | Promise<void>; end?: () => void | Promise<void> } = {}): Promise<LoopResult> {
  const lat: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      const ok = await send().catch(() => false);
      if (!measuring) continue;
      if (ok) lat.push(performance.now() - t0); else errors++;
    }
  };
  const workers = Array.from({ length: clients }, worker);
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  await during.start?.();
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  await during.end?.();
  stop = true;
  await Promise.all(workers);
  return { latenciesMs: lat, errors, seconds: elapsed };
}
