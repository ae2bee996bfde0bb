// `npm run simulate`: a flash sale seen through three read strategies at once.
// Hot SKUs sell out under a purchase stream, QUALITY_HOLD flags flip, and every
// impression is answered by all three strategies concurrently (same database,
// same instant, same candidates), bracketed by two truth reads so a "dead end"
// (promoted, but out of stock or held for the whole decision) can be proven.
// Writes docs/simulation.json and docs/simulation.svg, prints a markdown table.
import fs from 'node:fs';
import { createClient } from 'redis';
import { createSql, type Sql } from '../src/db/client.js';
import { recordEvents } from '../src/writes/events.js';
import { upsertItems } from '../src/writes/items.js';
import { sleep } from '../src/util.js';
import { setPolicyFlag } from '../src/writes/policy.js';
import { benchDatabase, closeHttpAgent, httpPost, machine, percentile, seedCatalog, skuName, startGateway } from './setup.js';

const num = (name: string, fallback: number) => Number(process.env[name] || fallback);
const S = {
  seconds: num('SIM_SECONDS', 60),
  skus: num('SIM_SKUS', 200),
  hotSkus: num('SIM_HOT', 10),
  hotStockMin: num('SIM_STOCK_MIN', 100),
  hotStockMax: num('SIM_STOCK_MAX', 300),
  purchasesPerS: num('SIM_PURCHASES_PER_S', 150),
  decisionsPerS: num('SIM_DECISIONS_PER_S', 100),
  candidates: num('SIM_CANDIDATES', 20),
  hotPerDecision: num('SIM_HOT_PER_DECISION', 6),
  holdEveryMs: num('SIM_HOLD_EVERY_MS', 1000),
  holdForMs: num('SIM_HOLD_FOR_MS', 3000),
  holdPool: num('SIM_HOLD_POOL', 50),
  ttlMs: num('SIM_TTL_MS', 2000),
  seed: num('SIM_SEED', 42),
};
const STRATEGIES = ['gateway', 'ttl-cache', 'per-signal'] as const;
type Strategy = (typeof STRATEGIES)[number];
const SCALE = { impressionsPerHour: 10_000_000, lagMs: 2000 };

// Seeded PRNG (mulberry32) so two runs draw the same catalog, candidates and buyers.
let rngState = S.seed >>> 0;
function rand(): number {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

/** k distinct SKU indexes from [lo, hi). */
function pick(k: number, lo: number, hi: number): number[] {
  const out = new Set<number>();
  while (out.size < Math.min(k, hi - lo)) out.add(randInt(lo, hi - 1));
  return [...out];
}

interface Decision { userId: string; sessionId: string; candidates: string[] }
/** What a strategy saw for one candidate; `sales` is salesLast5m or sku_counters.sales_total. */
interface Verdict { sku: string; eligible: boolean; available: number; reserved: number; sales: number }

let decisionNo = 0;
function nextDecision(): Decision {
  const i = decisionNo++;
  const hot = pick(S.hotPerDecision, 0, S.hotSkus);
  const cold = pick(S.candidates - hot.length, S.hotSkus, S.skus);
  return { userId: `user-${i % 200}`, sessionId: `session-${i % 200}`, candidates: [...hot, ...cold].map(skuName) };
}

// ---------- strategy 1: the gateway over HTTP, one snapshot per decision ----------

const QUERY = `query D($u: ID!, $s: ID, $c: [ID!]!, $r: String) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r) {
    candidates { sku eligible inventory { available reserved } velocity { salesLast5m } }
  }
}`;
async function post(url: string, body: string): Promise<string> {
  const res = await httpPost(url, body);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body}`);
  return res.body;
}

interface GatewayReply {
  data?: { decisionContext: { candidates: { sku: string; eligible: boolean; inventory: { available: number; reserved: number } | null;
    velocity: { salesLast5m: number } }[] } };
  errors?: unknown[];
}

async function viaGateway(url: string, d: Decision): Promise<Verdict[]> {
  const reply = JSON.parse(await post(url, JSON.stringify({
    query: QUERY, variables: { u: d.userId, s: d.sessionId, c: d.candidates, r: 'berlin' },
  }))) as GatewayReply;
  if (reply.errors || !reply.data) throw new Error(JSON.stringify(reply.errors));
  return reply.data.decisionContext.candidates.map((c) => ({
    sku: c.sku, eligible: c.eligible, available: c.inventory?.available ?? 0, reserved: c.inventory?.reserved ?? 0,
    sales: c.velocity.salesLast5m,
  }));
}

// ---------- the per-SKU signals, one statement per signal (as separate services answer them) ----------

interface Signals { stock: { available: number; reserved: number }; sales: number; flags: string[] }
type Signal = keyof Signals;
const SIGNALS: Signal[] = ['stock', 'sales', 'flags'];

async function readSignal(db: Sql, signal: Signal, skus: string[]): Promise<Map<string, unknown>> {
  if (signal === 'stock') {
    const rows = await db<{ sku: string; available: number; reserved: number }[]>`
      select sku, available, reserved from inventory where sku = any(${skus}::text[])`;
    return new Map(rows.map((r) => [r.sku, { available: r.available, reserved: r.reserved }]));
  }
  if (signal === 'sales') {
    const rows = await db<{ sku: string; sales: number }[]>`
      select sku, sales_total::int as sales from sku_counters where sku = any(${skus}::text[])`;
    return new Map(rows.map((r) => [r.sku, r.sales]));
  }
  const rows = await db<{ sku: string; kinds: string[] }[]>`
    select c.sku, coalesce(array_agg(f.kind) filter (where f.kind is not null), '{}') as kinds
    from unnest(${skus}::text[]) as c(sku)
    left join items i on i.sku = c.sku
    left join policy_flags f on f.active and ((f.scope = 'SKU' and f.target = c.sku)
                                           or (f.scope = 'CATEGORY' and f.target = i.category))
    group by c.sku`;
  return new Map(rows.map((r) => [r.sku, r.kinds]));
}

// The gateway's own rules (src/reads/rules.ts) for the reasons in play here;
// user fraud and delivery are constant in this scenario.
function verdict(sku: string, s: Signals): Verdict {
  const eligible = s.stock.available - s.stock.reserved >= 1 && !s.flags.includes('QUALITY_HOLD') && !s.flags.includes('RISK_GATE');
  return { sku, eligible, available: s.stock.available, reserved: s.stock.reserved, sales: s.sales };
}

// ---------- strategy 2: a 2 s TTL cache, one key per SKU and signal ----------

interface Store { mget(keys: string[]): Promise<(string | null)[]>; set(entries: [string, string][], ttlMs: number): Promise<void> }

function mapStore(): Store {
  const m = new Map<string, { v: string; exp: number }>();
  return {
    async mget(keys) {
      const now = Date.now();
      return keys.map((k) => { const e = m.get(k); return e && e.exp > now ? e.v : null; });
    },
    async set(entries, ttlMs) {
      const exp = Date.now() + ttlMs;
      for (const [k, v] of entries) m.set(k, { v, exp });
    },
  };
}

async function redisStore(url: string) {
  const client = createClient({ url });
  client.on('error', (err) => console.error('redis:', err));
  await client.connect();
  const store: Store = {
    mget: (keys) => client.mGet(keys),
    async set(entries, ttlMs) {
      const m = client.multi();
      for (const [k, v] of entries) m.set(k, v, { expiration: { type: 'PX', value: ttlMs } });
      await m.exec();
    },
  };
  return { store, close: () => client.close() };
}

// Each signal has its own key and is filled by its own statement on a miss, as
// when stock, sales and flags come from different services: entries of one SKU
// can be filled at different instants, and concurrent fills race (last write wins).
async function viaCache(db: Sql, store: Store, prefix: string, d: Decision): Promise<Verdict[]> {
  const keys = SIGNALS.flatMap((sig) => d.candidates.map((sku) => `${prefix}:${sig}:${sku}`));
  const cached = await store.mget(keys);
  const values = new Map<string, unknown>(); // "signal:sku" -> value
  const missing = new Map<Signal, string[]>();
  SIGNALS.forEach((sig, si) => d.candidates.forEach((sku, ci) => {
    const hit = cached[si * d.candidates.length + ci];
    if (hit != null) values.set(`${sig}:${sku}`, JSON.parse(hit));
    else missing.set(sig, [...(missing.get(sig) ?? []), sku]);
  }));
  await Promise.all([...missing].map(async ([sig, skus]) => {
    const rows = await readSignal(db, sig, skus);
    const fill: [string, string][] = [];
    for (const [sku, v] of rows) { values.set(`${sig}:${sku}`, v); fill.push([`${prefix}:${sig}:${sku}`, JSON.stringify(v)]); }
    await store.set(fill, S.ttlMs);
  }));
  return d.candidates.map((sku) => verdict(sku, {
    stock: values.get(`stock:${sku}`) as Signals['stock'], sales: values.get(`sales:${sku}`) as number,
    flags: values.get(`flags:${sku}`) as string[],
  }));
}

// ---------- strategy 3: per-signal requests, each on its own pool ----------

async function viaPerSignal(pools: Record<Signal, Sql>, d: Decision): Promise<Verdict[]> {
  const [stock, sales, flags] = await Promise.all(SIGNALS.map((sig) => readSignal(pools[sig], sig, d.candidates)));
  return d.candidates.map((sku) => verdict(sku, {
    stock: stock!.get(sku) as Signals['stock'], sales: sales!.get(sku) as number, flags: flags!.get(sku) as string[],
  }));
}

// ---------- ground truth ----------

// updated_at / changed_at as text (microseconds): an unchanged value between two
// reads means no committed write touched the row in between.
interface Truth { sellable: number; stockVersion: string; holdSince: string | null }

async function readTruth(db: Sql, skus: string[]): Promise<Map<string, Truth>> {
  const rows = await db<({ sku: string } & Truth)[]>`
    select c.sku, inv.available - inv.reserved as sellable, inv.updated_at::text as "stockVersion",
      (select max(f.changed_at)::text from policy_flags f
        where f.active and f.kind = 'QUALITY_HOLD'
          and ((f.scope = 'SKU' and f.target = c.sku) or (f.scope = 'CATEGORY' and f.target = i.category))) as "holdSince"
    from unnest(${skus}::text[]) as c(sku)
    join inventory inv on inv.sku = c.sku join items i on i.sku = c.sku`;
  return new Map(rows.map((r) => [r.sku, r]));
}

type DeadWhy = 'outOfStock' | 'qualityHold' | null;
function deadThroughout(before: Truth, after: Truth): DeadWhy {
  if (before.sellable < 1 && after.stockVersion === before.stockVersion) return 'outOfStock';
  if (before.holdSince !== null && after.holdSince === before.holdSince) return 'qualityHold';
  return null;
}

// ---------- write streams ----------

function purchaseStream(sql: Sql, weights: number[], t0: number) {
  const total = weights.reduce((a, b) => a + b, 0);
  const hotSku = () => {
    let r = rand() * total;
    for (let i = 0; i < weights.length; i++) if ((r -= weights[i]!) < 0) return i;
    return weights.length - 1;
  };
  const stats = { accepted: 0, refusedInsufficientStock: 0, errors: 0 };
  const soldOutAtS: Record<string, number> = {};
  const ticksPerS = 50;
  let stop = false;
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    const start = performance.now();
    for (let tick = 0; !stop; tick++) {
      const wait = start + (tick * 1000) / ticksPerS - performance.now();
      if (wait > 0) await sleep(wait);
      // Spread the per-second rate over ticks without rounding it away.
      const n = Math.floor(((tick + 1) * S.purchasesPerS) / ticksPerS) - Math.floor((tick * S.purchasesPerS) / ticksPerS);
      for (let k = 0; k < n; k++) {
        const sku = skuName(hotSku());
        const buyer = `buyer-${randInt(0, 499)}`;
        // One purchase per call: a refused sold-out SKU must not take other purchases with it.
        const p = recordEvents(sql, [{ kind: 'PURCHASE', userId: buyer, sessionId: null, sku, quantity: 1 }]).then(
          (r) => {
            stats.accepted++;
            const s = r.stock[0];
            if (s && s.available - s.reserved < 1) soldOutAtS[sku] = round((performance.now() - t0) / 1000, 1);
          },
          (err: { extensions?: { code?: string } }) => {
            if (err.extensions?.code === 'INSUFFICIENT_STOCK') stats.refusedInsufficientStock++;
            else { stats.errors++; if (stats.errors <= 3) console.error('purchase:', err); }
          },
        ).finally(() => inflight.delete(p));
        inflight.add(p);
      }
    }
  })();
  return { async stop() { stop = true; await loop; await Promise.all(inflight); return { ...stats, soldOutAtS }; } };
}

function holdFlips(sql: Sql) {
  const held = new Set<string>();
  const stats = { holdsOn: 0, holdsOff: 0, errors: 0 };
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => { const q = p.catch(() => { stats.errors++; }).finally(() => pending.delete(q)); pending.add(q); };
  const timer = setInterval(() => {
    const free = Array.from({ length: S.holdPool }, (_, i) => skuName(i)).filter((s) => !held.has(s));
    const sku = free[randInt(0, free.length - 1)]!;
    held.add(sku);
    track(setPolicyFlag(sql, 'SKU', sku, 'QUALITY_HOLD', true, 'simulated quality hold').then(() => {
      stats.holdsOn++;
      setTimeout(() => track(setPolicyFlag(sql, 'SKU', sku, 'QUALITY_HOLD', false, null).then(() => {
        stats.holdsOff++;
        held.delete(sku);
      })), S.holdForMs);
    }));
  }, S.holdEveryMs);
  return { async stop() { clearInterval(timer); await sleep(S.holdForMs + 100); await Promise.all(pending); return stats; } };
}

// ---------- scoring ----------

interface Score {
  decisions: number; errors: number; latencies: number[];
  deadEnds: { outOfStock: number; qualityHold: number };
  tornDecisions: number; tornCandidates: number;
}
const newScore = (): Score => ({
  decisions: 0, errors: 0, latencies: [], deadEnds: { outOfStock: 0, qualityHold: 0 }, tornDecisions: 0, tornCandidates: 0,
});

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------- the chart ----------

function svgChart(rows: { name: Strategy; deadPerMin: number; p50: number; p99: number; tornPct: number }[], note: string): string {
  const W = 860, H = 390, top = 70, base = 320, plotH = base - top;
  const colors: Record<Strategy, string> = { gateway: '#2e7d32', 'ttl-cache': '#c62828', 'per-signal': '#ef6c00' };
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : String(round(v, 1)));
  const parts: string[] = [];
  const bar = (x: number, w: number, v: number, max: number, fill: string, label: string) => {
    const h = max > 0 ? (v / max) * plotH : 0;
    parts.push(`<rect x="${x}" y="${base - h}" width="${w}" height="${Math.max(h, 0.5)}" fill="${fill}"/>`,
      `<text x="${x + w / 2}" y="${base - h - 6}" text-anchor="middle" font-size="12">${esc(label)}</text>`);
  };
  const axis = (x0: number, x1: number, title: string) => parts.push(
    `<line x1="${x0}" y1="${base}" x2="${x1}" y2="${base}" stroke="#444"/>`,
    `<text x="${(x0 + x1) / 2}" y="${top - 24}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);

  // Left: dead ends per minute at scale.
  const maxDead = Math.max(...rows.map((r) => r.deadPerMin));
  axis(40, 400, `Dead-end impressions / min (${SCALE.impressionsPerHour / 1e6}M/h, ${SCALE.lagMs / 1000} s lag)`);
  rows.forEach((r, i) => {
    const x = 70 + i * 110;
    bar(x, 70, r.deadPerMin, maxDead, colors[r.name], fmt(r.deadPerMin));
    parts.push(`<text x="${x + 35}" y="${base + 18}" text-anchor="middle" font-size="12">${r.name}</text>`);
  });

  // Right: latency p50 (solid) and p99 (light) per strategy.
  const maxLat = Math.max(...rows.map((r) => r.p99));
  axis(460, 840, 'Decision latency, ms (p50 solid, p99 light)');
  rows.forEach((r, i) => {
    const x = 480 + i * 125;
    bar(x, 45, r.p50, maxLat, colors[r.name], fmt(r.p50));
    bar(x + 50, 45, r.p99, maxLat, colors[r.name] + '66', fmt(r.p99));
    parts.push(`<text x="${x + 47}" y="${base + 18}" text-anchor="middle" font-size="12">${r.name}</text>`);
  });
  const torn = rows.map((r) => `${r.name} ${r.tornPct}%`).join(', ');
  parts.push(`<text x="${W / 2}" y="${base + 45}" text-anchor="middle" font-size="12">Torn contexts (stock and sales from different instants): ${esc(torn)}</text>`,
    `<text x="${W / 2}" y="${base + 63}" text-anchor="middle" font-size="11" fill="#555">${esc(note)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">Flash-sale simulation: three ways to read decision signals</text>
${parts.join('\n')}
</svg>
`;
}

// ---------- main ----------

async function main() {
  const runStarted = new Date();
  const db = await benchDatabase();
  const pools = Object.fromEntries(SIGNALS.map((sig) => [sig, createSql(db.url, { poolMax: 6, connectTimeoutSeconds: 5, statementTimeoutMs: 30_000 })])) as Record<Signal, Sql>;
  // Writers get their own pool so reads never queue behind purchases waiting on row locks.
  const writes = createSql(db.url, { poolMax: 8, connectTimeoutSeconds: 5, statementTimeoutMs: 30_000 });
  const redis = process.env.REDIS_URL ? await redisStore(process.env.REDIS_URL) : undefined;
  const store = redis?.store ?? mapStore();
  const workers = process.env.WORKERS || '1';
  const gw = await startGateway(db.url, { PG_POOL_MAX: '16', WORKERS: workers });
  try {
    await seedCatalog(db.sql, S.skus);
    // Start clean: lift the seed's holds and category gate so only this run's flips hold anything.
    const seeded = await db.sql<{ scope: 'SKU' | 'CATEGORY' | 'USER'; target: string; kind: 'QUALITY_HOLD' | 'RISK_GATE' | 'FRAUD' }[]>`
      select scope, target, kind from policy_flags where active`;
    for (const f of seeded) await setPolicyFlag(db.sql, f.scope, f.target, f.kind, false, null);
    const hotStock = Array.from({ length: S.hotSkus }, () => randInt(S.hotStockMin, S.hotStockMax));
    await upsertItems(db.sql, hotStock.map((available, i) => ({
      sku: skuName(i), title: `Bench item ${i}`, category: `cat-${i % 20}`, priceMinor: 500 + i, currency: 'EUR', available,
    })));
    // Invariant constant per SKU, read in one snapshot: available + sales_total never changes
    // (a purchase moves both in one transaction). The DB is younger than 5 min, so salesLast5m = sales_total.
    const invariant = new Map((await db.sql<{ sku: string; k: number }[]>`
      select i.sku, (i.available + k.sales_total)::int as k from inventory i join sku_counters k on k.sku = i.sku`)
      .map((r) => [r.sku, r.k]));

    // Warm the gateway (JIT, pools) and the read paths before measuring; the cache starts cold below.
    for (let i = 0; i < 60; i++) {
      const d = nextDecision();
      await Promise.all([viaGateway(gw.url, d), viaPerSignal(pools, d), readTruth(db.sql, d.candidates)]);
    }

    const prefix = `sim:${Date.now()}`;
    const runners: Record<Strategy, (d: Decision) => Promise<Verdict[]>> = {
      gateway: (d) => viaGateway(gw.url, d),
      'ttl-cache': (d) => viaCache(db.sql, store, prefix, d),
      'per-signal': (d) => viaPerSignal(pools, d),
    };
    const scores = Object.fromEntries(STRATEGIES.map((s) => [s, newScore()])) as Record<Strategy, Score>;
    let truthErrors = 0;

    async function impression(): Promise<void> {
      const d = nextDecision();
      let before: Map<string, Truth>;
      try { before = await readTruth(db.sql, d.candidates); } catch { truthErrors++; return; }
      const outcomes = await Promise.all(STRATEGIES.map(async (name) => {
        const t = performance.now();
        try {
          const verdicts = await runners[name](d);
          return { name, verdicts, ms: performance.now() - t };
        } catch (err) {
          if (scores[name].errors++ < 3) console.error(`${name}:`, err);
          return { name, verdicts: null, ms: 0 };
        }
      }));
      let after: Map<string, Truth>;
      try { after = await readTruth(db.sql, d.candidates); } catch { truthErrors++; return; }
      for (const { name, verdicts, ms } of outcomes) {
        if (!verdicts) continue;
        const sc = scores[name];
        sc.decisions++;
        sc.latencies.push(ms);
        let torn = 0;
        for (const v of verdicts) {
          if (v.available + v.sales !== invariant.get(v.sku)) torn++;
          const why = v.eligible ? deadThroughout(before.get(v.sku)!, after.get(v.sku)!) : null;
          if (why) sc.deadEnds[why]++;
        }
        sc.tornCandidates += torn;
        if (torn > 0) sc.tornDecisions++;
      }
    }

    // Open loop: impression i is due at start + i/rate whatever came before.
    const weights = Array.from({ length: S.hotSkus }, (_, i) => 1 / (i + 1)); // Zipf: sell-outs spread over the run
    const t0 = performance.now();
    const purchases = purchaseStream(writes, weights, t0);
    const flips = holdFlips(writes);
    const inflight: Promise<void>[] = [];
    const total = Math.round(S.decisionsPerS * S.seconds);
    for (let i = 0; i < total; i++) {
      const wait = t0 + (i * 1000) / S.decisionsPerS - performance.now();
      if (wait > 1) await sleep(wait);
      inflight.push(impression());
    }
    await Promise.all(inflight);
    const elapsedS = (performance.now() - t0) / 1000;
    const [purchaseStats, flipStats] = await Promise.all([purchases.stop(), flips.stop()]);

    // salesLast5m equals sales_total only while no sale is older than the window (5 s of margin).
    const [cover] = await db.sql<{ covers: boolean }[]>`
      select coalesce(bool_and(velocity_window(sales_5m, ring_ds / 10, sales_rel,
                                               floor(extract(epoch from now()))::bigint - 294) = sales_total), true) as covers
      from sku_counters`;
    const windowCoversRun = cover!.covers;

    const perMinAtScale = SCALE.impressionsPerHour / 60;
    const rows = STRATEGIES.map((name) => {
      const sc = scores[name];
      sc.latencies.sort((a, b) => a - b);
      const dead = sc.deadEnds.outOfStock + sc.deadEnds.qualityHold;
      // A TTL cache's exposure after a change grows linearly with its lag; the others read at decision time.
      const lagFactor = name === 'ttl-cache' ? SCALE.lagMs / S.ttlMs : 1;
      return {
        name, decisions: sc.decisions, errors: sc.errors,
        deadEnds: { ...sc.deadEnds, total: dead },
        deadEndsPer1kDecisions: round((dead / Math.max(sc.decisions, 1)) * 1000),
        deadEndsPerMinObserved: round(dead / (elapsedS / 60), 1),
        tornDecisions: sc.tornDecisions, tornCandidates: sc.tornCandidates,
        tornPct: round((sc.tornDecisions / Math.max(sc.decisions, 1)) * 100),
        latencyMs: { p50: round(percentile(sc.latencies, 50)), p99: round(percentile(sc.latencies, 99)) },
        deadPerMin: Math.round((dead / Math.max(sc.decisions, 1)) * perMinAtScale * lagFactor),
      };
    });

    const results = {
      when: runStarted.toISOString(),
      machine: { ...machine(), postgres: db.pgVersion },
      settings: { ...S, gatewayWorkers: Number(workers), elapsedS: round(elapsedS, 1), cache: redis ? 'redis' : 'in-process Map', hotStock },
      execution: 'concurrent: every impression is answered by all three strategies at the same moment, with the same '
        + 'candidates, against the same database and the same write traffic; the three compete for the same 2 cores.',
      traffic: {
        purchases: { ...purchaseStats, via: 'recordEvents(sql, ...) in-process, one purchase per transaction, Zipf-weighted over the hot SKUs' },
        holds: flipStats, truthReadErrors: truthErrors, salesLast5mCoversWholeRun: windowCoversRun,
      },
      rules: {
        impression: `one decision for ${S.candidates} candidates (${S.hotPerDecision} hot); a dead end counts one candidate slot`,
        deadEnd: 'a candidate the strategy returned as eligible while it was dead for the whole decision: two truth reads '
          + '(one statement each, read committed) bracket the decision; out of stock = available - reserved < 1 before '
          + 'and inventory.updated_at unchanged after (no committed stock write in between); held = an active QUALITY_HOLD '
          + 'before with the same policy_flags.changed_at after (no flip in between). Items that changed during the '
          + 'decision are never counted, so this is a lower bound.',
        torn: 'a decision with any candidate where available + sales != available + sales_total at run start (one '
          + 'snapshot): a purchase moves both in one transaction, so a mismatch means stock and sales were read at '
          + 'different instants. gateway: inventory.available + velocity.salesLast5m (the DB is younger than 5 min); '
          + 'ttl-cache and per-signal: inventory.available + sku_counters.sales_total as each reads them. A torn cache fill '
          + '(stock and sales keys filled by different statements or racing fills) is served to every decision until it expires.',
        strategies: {
          gateway: 'POST decisionContext to the gateway process over HTTP keep-alive; one repeatable-read snapshot per decision.',
          'ttl-cache': `one cache key per SKU and signal (stock, sales, flags), TTL ${S.ttlMs} ms; misses are read per signal `
            + 'with one statement each on the shared pool and written back; no invalidation.',
          'per-signal': 'stock, sales and flags each fetched by its own statement on its own pool (three pools, no shared '
            + 'transaction), in parallel.',
        },
        eligibility: 'ttl-cache and per-signal apply the gateway rules in play here: sellable >= 1, no QUALITY_HOLD, no RISK_GATE.',
        latency: 'per strategy, from the moment it is asked (after the first truth read) to its answer.',
        extrapolation: `dead ends per decision x ${SCALE.impressionsPerHour.toLocaleString('en-US')} impressions/h / 60, `
          + `for the same candidate mix and change rate; the ttl-cache figure is scaled linearly to a ${SCALE.lagMs} ms lag `
          + `(x ${round(SCALE.lagMs / S.ttlMs)}). gateway and per-signal read at decision time, so their lag is their own latency.`,
      },
      strategies: Object.fromEntries(rows.map(({ name, deadPerMin, ...r }) => [name, { ...r, extrapolatedDeadEndsPerMin: deadPerMin }])),
    };

    fs.mkdirSync('docs', { recursive: true });
    fs.writeFileSync('docs/simulation.json', `${JSON.stringify(results, null, 2)}\n`);
    fs.writeFileSync('docs/simulation.svg', svgChart(rows.map((r) => ({ name: r.name, deadPerMin: r.deadPerMin, tornPct: r.tornPct, ...r.latencyMs })),
      `${S.seconds} s, ${S.decisionsPerS} decisions/s x ${S.candidates} candidates, ${S.purchasesPerS} purchases/s on ${S.hotSkus} hot SKUs, `
      + `a ${S.holdForMs / 1000} s QUALITY_HOLD every ${S.holdEveryMs / 1000} s; cache: ${results.settings.cache}; ${machine().cpus} cores`));

    console.log(`\n| strategy | decisions | errors | dead ends (stock / hold) | per 1k decisions | torn decisions | p50 ms | p99 ms | dead ends/min @ 10M/h, 2 s lag |`);
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.name} | ${r.decisions} | ${r.errors} | ${r.deadEnds.total} (${r.deadEnds.outOfStock} / ${r.deadEnds.qualityHold}) | `
        + `${r.deadEndsPer1kDecisions} | ${r.tornDecisions} (${r.tornPct}%) | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.deadPerMin.toLocaleString('en-US')} |`);
    }
    console.log(`\ncache: ${results.settings.cache}; purchases ${purchaseStats.accepted} accepted, ${purchaseStats.refusedInsufficientStock} refused `
      + `(sold out); holds ${flipStats.holdsOn} on / ${flipStats.holdsOff} off; salesLast5m covers run: ${windowCoversRun}`);
    console.log('wrote docs/simulation.json, docs/simulation.svg');
  } finally {
    await gw.stop();
    await Promise.all([...SIGNALS.map((sig) => pools[sig].end()), writes.end()]);
    await redis?.close();
    closeHttpAgent();
    await db.close();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
