import { createApp } from '../src/app.js';
import { createSql } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { benchDatabase, seedCatalog, skuName } from './setup.js';

const db = await benchDatabase();
await seedCatalog(db.sql);
const sql = createSql(db.url, { poolMax: 16, connectTimeoutSeconds: 5, statementTimeoutMs: 30000 });
const app = createApp({ sql, logger: createLogger('warn'), production: true });
const QUERY = `query D($u: ID!, $s: ID, $c: [ID!]!, $r: String) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r) {
    snapshot { id readAt }
    user { id segment flags { kind } recentPurchases { sku at } }
    session { intent lastEventAt recentEvents { kind sku at } }
    candidates { sku eligible reasons item { title category } inventory { available reserved }
      velocity { salesLast5s salesLast5m clicksLast30s } price { amountMinor currency } policy { kind } fulfillment { nextSlotAt } }
  }
}`;
let n = 0;
const body = () => { const i = n++; const start = (i * 13) % 200; return JSON.stringify({ query: QUERY, variables: { u: `user-${i % 200}`, s: `session-${i % 200}`, c: Array.from({ length: 50 }, (_, k) => skuName((start + k) % 200)), r: 'berlin' } }); };
let stop = false; let done = 0;
const worker = async () => { while (!stop) { const r = await app.fetch('http://x/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() }); await r.text(); done++; } };
const ws = Array.from({ length: 16 }, worker);
await new Promise((r) => setTimeout(r, 2000));
done = 0; const c0 = process.cpuUsage(); const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(process.env.S || 6) * 1000));
const el = (performance.now() - t0) / 1000; const cpu = process.cpuUsage(c0);
console.log('decisions/s', (done / el).toFixed(0), 'node CPU ms/decision', ((cpu.user + cpu.system) / 1000 / done).toFixed(2), 'user', (cpu.user/1000/done).toFixed(2), 'sys', (cpu.system/1000/done).toFixed(2));
stop = true; await Promise.all(ws); await sql.end(); await db.close();
