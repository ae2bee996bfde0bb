// `npm run bench:push`: 1,000 concurrent graphql-ws subscribers on one gateway
// process, a steady stream of stock changes; latency from the change's commit
// to its receipt at each client, lost/duplicated deliveries, memory per subscriber.
import fs from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { sleep } from '../src/util.js';
import { benchDatabase, machine, percentile, rssMiB, seedCatalog, skuName, startGateway } from './setup.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS || 1000);
const CHANGES_PER_S = Number(process.env.BENCH_CHANGES_PER_S || 20);
const SECONDS = Number(process.env.BENCH_SECONDS || 20);
const SKUS = 50;

async function main() {
  const db = await benchDatabase();
  await seedCatalog(db.sql, 200);
  const gw = await startGateway(db.url, { PG_POOL_MAX: '8' });
  const wsUrl = gw.url.replace('http', 'ws');
  await sleep(500);
  const rssBefore = rssMiB(gw.pid);

  const skus = Array.from({ length: SKUS }, (_, i) => skuName(i));
  const latencies: number[] = [];
  const seen = Array.from({ length: SUBSCRIBERS }, () => [] as number[]);
  let connected = 0;
  const clients = Array.from({ length: SUBSCRIBERS }, (_, i) => {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    client.subscribe<any>({ query: `subscription($s: [ID!]) { inventoryChanged(skus: $s) { cursor committedAt } }`, variables: { s: skus } }, {
      next: (r) => {
        const c = r.data!.inventoryChanged;
        latencies.push(Date.now() - Date.parse(c.committedAt));
        seen[i]!.push(Number(c.cursor));
      },
      error: (e) => console.error('subscriber error', e),
      complete: () => {},
    });
    client.on('connected', () => { connected++; });
    return client;
  });
  while (connected < SUBSCRIBERS) await sleep(50);
  await sleep(1000); // every subscription registered
  const rssSubscribed = rssMiB(gw.pid);

  // The writer: one setInventory per tick, alternating SKUs, each a committed change.
  const total = CHANGES_PER_S * SECONDS;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / CHANGES_PER_S - performance.now();
    if (wait > 0) await sleep(wait);
    const res = await fetch(gw.url, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation($s: ID!, $n: Int!) { setInventory(sku: $s, available: $n) { available } }',
        variables: { s: skus[i % SKUS], n: 500_000 + i } }),
    });
    if (!res.ok) throw new Error(`write failed: ${res.status}`);
  }
  const deadline = Date.now() + 30_000;
  while (seen.some((s) => s.length < total) && Date.now() < deadline) await sleep(100);
  const rssAfter = rssMiB(gw.pid);

  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (const s of seen) {
    lost += Math.max(0, total - new Set(s).size);
    duplicated += s.length - new Set(s).size;
    for (let k = 1; k < s.length; k++) if (s[k]! <= s[k - 1]!) outOfOrder++;
  }
  latencies.sort((a, b) => a - b);
  const results = {
    when: new Date().toISOString(), machine: { ...machine(), postgres: db.pgVersion },
    settings: { subscribers: SUBSCRIBERS, changesPerS: CHANGES_PER_S, seconds: SECONDS, transport: 'graphql-ws, one connection per subscriber' },
    deliveries: latencies.length, expected: total * SUBSCRIBERS, lost, duplicated, outOfOrder,
    commitToReceiptMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) },
    gatewayRssMiB: { before: rssBefore, subscribed: rssSubscribed, after: rssAfter },
    memoryPerSubscriberKiB: Math.round(((rssSubscribed - rssBefore) * 1024) / SUBSCRIBERS),
  };
  console.log(JSON.stringify(results, null, 2));
  await Promise.all(clients.map((c) => c.dispose()));
  await gw.stop();
  await db.close();
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/push-${results.when.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync('bench/results/push-latest.json', `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => { console.error(err); process.exit(1); });
