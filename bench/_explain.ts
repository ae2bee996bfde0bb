import { benchDatabase, seedCatalog, skuName } from './setup.js';
const db = await benchDatabase();
if (process.env.GENERIC) await db.sql.end(), (db as any).sql = (await import('postgres')).default(db.url, { max: 4, connection: { plan_cache_mode: 'force_generic_plan' } });
await seedCatalog(db.sql);
// simulate flash-sale checkpoints: 300 seconds of rows for hot skus
await db.sql`insert into velocity_seconds (sku, sec, sales_cum, clicks_cum)
  select 'bench-' || lpad(g::text, 4, '0'), floor(extract(epoch from now()))::bigint - s, 1000 - s, 0
  from generate_series(0,199) g, generate_series(1, 300) s on conflict do nothing`;
await db.sql`analyze`;
const c = Array.from({ length: 50 }, (_, k) => skuName(k));
const { readFacts, readState, readVelocity } = await import('../src/reads/decision-sql.js');
for (const [name, fn] of [['facts', () => readFacts(db.sql, { userId: 'user-1', sessionId: 'session-1', region: 'berlin' })], ['state', () => readState(db.sql, c)], ['velocity', () => readVelocity(db.sql, c)]] as const) {
  for (let i = 0; i < 50; i++) await (fn as any)();
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) await (fn as any)();
  console.log(name, ((performance.now() - t0) / 500).toFixed(3), 'ms per statement (serial, incl. round trip)');
}
const t0 = performance.now();
for (let i = 0; i < 500; i++) await db.sql`select 1`;
console.log('select 1', ((performance.now() - t0) / 500).toFixed(3));
const plan = await db.sql.unsafe(`explain (analyze, buffers) select c.sku, i.title, i.category,
           inv.available, inv.reserved, inv.updated_at as "inventoryUpdatedAt",
           p.amount_minor as "amountMinor", p.currency, p.list_amount_minor as "listAmountMinor",
           p.updated_at as "priceUpdatedAt",
           (select json_agg(f) from policy_flags f
             where f.active and ((f.scope = 'SKU' and f.target = c.sku)
                              or (f.scope = 'CATEGORY' and f.target = i.category))) as flags
    from unnest($1::text[]) as c(sku)
    left join items i on i.sku = c.sku
    left join inventory inv on inv.sku = c.sku
    left join prices p on p.sku = c.sku`, [c]);
console.log(plan.map((r: any) => r['QUERY PLAN']).join('\n'));
await db.close();
