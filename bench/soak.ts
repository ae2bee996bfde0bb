// `npm run soak`: a steady mixed load for SOAK_MINUTES (default 10): decisions
// (50 candidates) at a fixed rate, a purchase stream, stock changes, and 200
// graphql-ws subscribers. Every 30 s: gateway RSS, decision p50/p99, errors,
// deliveries. Pass: zero errors, no lost delivery, RSS and p99 flat.
import fs from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { logBounds } from '../src/live/changelog.js';
import { sleep } from '../src/util.js';
import { benchDatabase, closeHttpAgent, httpPost, machine, percentile, rssMiB, seedCatalog, skuName, startGateway } from './setup.js';

const MINUTES = Number(process.env.SOAK_MINUTES || 10);
const DECISIONS_PER_S = Number(process.env.SOAK_DECISIONS_PER_S || 150);
const PURCHASES_PER_S = Number(process.env.SOAK_PURCHASES_PER_S || 50);
const SUBSCRIBERS = Number(process.env.SOAK_SUBSCRIBERS || 200);

const QUERY = `query($u: ID!, $s: ID, $c: [ID!]!) { decisionContext(userId: $u, sessionId: $s, candidates: $c, region: "berlin") {
  snapshot { id } session { intent } candidates { sku eligible reasons inventory { available } velocity { salesLast5m } price { amountMinor } } } }`;

async function main() {
  const db = await benchDatabase();
  await seedCatalog(db.sql);
  const gw = await startGateway(db.url, { PG_POOL_MAX: '16' });
  const wsUrl = gw.url.replace('http', 'ws');

  const startHead = (await logBounds(db.sql)).head;
  let delivered = 0;
  const received = Array.from({ length: SUBSCRIBERS }, () => 0);
  const cursors = Array.from({ length: SUBSCRIBERS }, () => 0);
  let outOfOrder = 0;
  const clients = Array.from({ length: SUBSCRIBERS }, (_, i) => {
    const c = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    c.subscribe<any>({ query: `subscription { inventoryChanged(skus: ["${skuName(i % 20)}", "${skuName(100 + (i % 50))}"]) { cursor } }` }, {
      next: (r) => {
        const cur = Number(r.data?.inventoryChanged.cursor);
        if (cur <= cursors[i]!) outOfOrder++;
        cursors[i] = cur;
        received[i]!++;
        delivered++;
      },
      error: (e) => console.error('subscriber error', e), complete: () => {},
    });
    return c;
  });
  await sleep(2000);

  const windows: Record<string, number>[] = [];
  let lat: number[] = [];
  let errors = 0;
  let n = 0;
  const started = Date.now();
  const end = started + MINUTES * 60_000;
  const tick = async (rate: number, fn: () => Promise<void>) => {
    const t0 = performance.now();
    const inflight = new Set<Promise<void>>();
    for (let i = 0; Date.now() < end; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const p = fn().finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.all(inflight);
  };
  const decision = async () => {
    const i = n++;
    const start = (i * 7) % 200;
    const body = JSON.stringify({ query: QUERY, variables: { u: `user-${i % 200}`, s: `session-${i % 200}`,
      c: Array.from({ length: 50 }, (_, k) => skuName((start + k) % 200)) } });
    const t = performance.now();
    const r = await httpPost(gw.url, body).catch(() => ({ status: 0, body: '' }));
    if (r.status === 200 && !r.body.includes('"errors"')) lat.push(performance.now() - t); else errors++;
  };
  const purchase = async () => {
    const body = JSON.stringify({ query: 'mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }',
      variables: { e: [{ kind: 'PURCHASE', userId: 'soak', sku: skuName(Math.floor(Math.random() * 200)), quantity: 1 },
        { kind: 'CLICK', userId: 'soak', sku: skuName(Math.floor(Math.random() * 200)), quantity: 1 }] } });
    const r = await httpPost(gw.url, body).catch(() => ({ status: 0, body: '' }));
    if (r.status !== 200 || r.body.includes('"errors"')) errors++;
  };
  const report = setInterval(() => {
    const sorted = [...lat].sort((a, b) => a - b);
    const w = { minute: Math.round((Date.now() - started) / 6000) / 10, rssMiB: rssMiB(gw.pid), decisions: sorted.length,
      p50: Math.round(percentile(sorted, 50) * 10) / 10, p99: Math.round(percentile(sorted, 99) * 10) / 10, errors, delivered };
    windows.push(w);
    console.log(JSON.stringify(w));
    lat = [];
  }, 30_000);
  await Promise.all([tick(DECISIONS_PER_S, decision), tick(PURCHASES_PER_S, purchase)]);
  clearInterval(report);
  await sleep(2000);

  // Every subscriber must have received every committed change of its two SKUs since it subscribed.
  const counts = new Map((await db.sql<{ key: string; n: number }[]>`
    select key, count(*)::int as n from change_log where topic = 'inventory' and seq > ${startHead} group by key`)
    .map((r) => [r.key, r.n]));
  const lost = received.reduce((sum, got, i) =>
    sum + (counts.get(skuName(i % 20)) ?? 0) + (counts.get(skuName(100 + (i % 50))) ?? 0) - got, 0);
  const results = {
    when: new Date().toISOString(), machine: { ...machine(), postgres: db.pgVersion },
    settings: { minutes: MINUTES, decisionsPerS: DECISIONS_PER_S, purchaseBatchesPerS: PURCHASES_PER_S, subscribers: SUBSCRIBERS },
    windows, totalErrors: errors, delivered, lostDeliveries: lost, outOfOrder,
  };
  fs.writeFileSync('bench/results/soak-latest.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify({ totalErrors: errors, delivered, lostDeliveries: lost, outOfOrder }));
  await Promise.all(clients.map((c) => c.dispose()));
  await gw.stop();
  await db.close();
  closeHttpAgent();
}

main().catch((err) => { console.error(err); process.exit(1); });
