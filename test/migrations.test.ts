// Migrations: a database left at any earlier state — including the first
// version of 0003, which was edited after it landed — upgrades to the current
// schema and keeps serving; and landed migration files never change again
// (the migrator skips a migration it has applied, so an edit never reaches a
// database that ran the old text).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrate, migrationsFolder } from '../src/db/migrate.js';
import { CLICKS_30S_SLOTS, SALES_5M_SLOTS, SALES_5S_SLOTS } from '../src/db/schema.js';
import { DECISION, ok, ownDatabase, readJournal, RECORD, testGateway } from './helpers.js';

const fixtures = new URL('./fixtures/', import.meta.url);
const fixture = (name: string) => new URL(name, fixtures).pathname;
// 0003 as it landed in 52dd764 (NOT NULL zero-filled rings, 5-argument velocity_push).
const ORIGINAL_0003 = fixture('0003_velocity_rings.52dd764.sql');

const sha256 = (file: string) =>
  createHash('sha256').update(fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n')).digest('hex');

describe('landed migrations', () => {
  const pinned = JSON.parse(fs.readFileSync(fixture('migration-hashes.json'), 'utf8')) as Record<string, string>;
  const files = fs.readdirSync(migrationsFolder).filter((f) => f.endsWith('.sql')).sort();

  it('are never edited: every migration file matches its pinned sha256', () => {
    for (const [file, hash] of Object.entries(pinned)) {
      expect(fs.existsSync(path.join(migrationsFolder, file)), `drizzle/${file} was removed: never remove a landed migration`).toBe(true);
      expect(sha256(path.join(migrationsFolder, file)),
        `drizzle/${file} changed after it landed. Never edit a landed migration: databases that already ran it `
        + 'never run it again. Restore it and add a new migration (drizzle-kit generate --custom) that makes the change.')
        .toBe(hash);
    }
    for (const file of files) {
      expect(pinned[file], `drizzle/${file} is not pinned: add its sha256 to test/fixtures/migration-hashes.json`
        + ' (sha256sum drizzle/*.sql); from then on it must not change').toBeDefined();
    }
    // The upgrade test below needs the first version of 0003 exactly as it landed.
    expect(sha256(ORIGINAL_0003)).toBe('a863ffe5202da59d54d2a5002ca128cd6681f1c86d277f530ff0bdf560f47faf');
  });

  it('are all in the journal, in order, with increasing timestamps (the migrator skips one older than the last applied)', () => {
    const { entries } = readJournal(migrationsFolder);
    expect(entries.map((e) => `${e.tag}.sql`)).toEqual(files);
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    for (let i = 1; i < entries.length; i++) {
      expect(entries[i]!.when, `journal: ${entries[i]!.tag} must be newer than ${entries[i - 1]!.tag}`)
        .toBeGreaterThan(entries[i - 1]!.when);
    }
  });
});

// The public schema as the catalog sees it: columns, defaults, storage,
// constraints, indexes, table options and function definitions.
async function schemaOf(sql: postgres.Sql) {
  return {
    columns: await sql`
      select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
             a.attnotnull as not_null, pg_get_expr(d.adbin, d.adrelid) as default, a.attstorage::text as storage
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
      order by 1, 2`,
    relations: await sql`
      select relname, relkind::text, reloptions from pg_class
      where relnamespace = 'public'::regnamespace order by 1`,
    constraints: await sql`
      select conrelid::regclass::text as rel, conname, pg_get_constraintdef(oid) as def from pg_constraint
      where connamespace = 'public'::regnamespace order by 1, 2`,
    indexes: await sql`select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1`,
    functions: await sql`
      select p.oid::regprocedure::text as signature, pg_get_functiondef(p.oid) as def from pg_proc p
      where p.pronamespace = 'public'::regnamespace order by 1`,
  };
}

// Each earlier state: how many migrations it ran, and which 0003 text.
const STATES = [
  { state: '0000', count: 1 },
  { state: '0001', count: 2 },
  { state: '0002', count: 3 },
  { state: 'the original 0003 (52dd764)', count: 4, replace: { '0003_velocity_rings': ORIGINAL_0003 } },
  { state: 'the current 0003', count: 4 },
  { state: '0004 (per-second rings)', count: 5 },
];

// The history written before the upgrade (seconds before the seeding clock):
// 5 sales 400 s ago (outside every window), 3 sales 100 s ago, 4 clicks 10 s ago.
const HISTORY = [{ ago: 400, sales: 5, clicks: 0 }, { ago: 100, sales: 3, clicks: 0 }, { ago: 10, sales: 0, clicks: 4 }];

/** Rows as the gateway of that schema would have written them. */
async function seed(sql: postgres.Sql, count: number, original0003: boolean): Promise<void> {
  const [{ s }] = (await sql`select floor(extract(epoch from now()))::int as s`) as unknown as [{ s: number }];
  await sql`insert into items (sku, title, category) values ('m-hot', 'Hot item', 'm-cat'), ('m-cold', 'Cold item', 'm-cat')`;
  await sql`insert into inventory (sku, available) values ('m-hot', 20), ('m-cold', 7)`;
  await sql`insert into prices (sku, amount_minor, currency, list_amount_minor)
            values ('m-hot', 1500, 'EUR', 2000), ('m-cold', 900, 'EUR', 900)`;
  await sql`insert into users (id, segment) values ('m-user', 'vip')`;
  await sql`insert into sessions (id, user_id, last_event_at) values ('m-sess', 'm-user', now() - interval '10 seconds')`;
  await sql`insert into fulfillment (region, congestion, latency_minutes) values ('m-eu', 0.25, 30)`;
  await sql`insert into events (kind, user_id, session_id, sku, quantity, at) values
    ('PURCHASE', 'm-user', 'm-sess', 'm-hot', 5, now() - interval '400 seconds'),
    ('PURCHASE', 'm-user', 'm-sess', 'm-hot', 3, now() - interval '100 seconds'),
    ('CLICK', 'm-user', 'm-sess', 'm-hot', 4, now() - interval '10 seconds')`;
  await sql`insert into sku_counters (sku) values ('m-hot'), ('m-cold')`;
  let sales = 0;
  let clicks = 0;
  for (const h of HISTORY) {
    const sec = s - h.ago;
    if (count < 4) {
      // Checkpoint rows: the running totals as of each second with a write.
      sales += h.sales;
      clicks += h.clicks;
      await sql`insert into velocity_seconds (sku, sec, sales_cum, clicks_cum) values ('m-hot', ${sec}, ${sales}, ${clicks})`;
      await sql`update sku_counters set sales_total = ${sales}, clicks_total = ${clicks} where sku = 'm-hot'`;
    } else if (original0003) {
      await sql`update sku_counters set sales_total = sales_total + ${h.sales}, clicks_total = clicks_total + ${h.clicks},
        sales_ring = velocity_push(sales_ring, ring_sec, ${sec}::bigint, sales_total, sales_total + ${h.sales}),
        clicks_ring = velocity_push(clicks_ring, ring_sec, ${sec}::bigint, clicks_total, clicks_total + ${h.clicks}),
        ring_sec = ${sec} where sku = 'm-hot'`;
    } else {
      await sql`update sku_counters set sales_total = sales_total + ${h.sales}, clicks_total = clicks_total + ${h.clicks},
        sales_ring = velocity_push(sales_ring, 310, ring_sec, ${sec}::bigint, sales_total, sales_total + ${h.sales}),
        clicks_ring = velocity_push(clicks_ring, 40, ring_sec, ${sec}::bigint, clicks_total, clicks_total + ${h.clicks}),
        ring_sec = ${sec} where sku = 'm-hot'`;
    }
  }
}

describe('upgrading to the current schema', () => {
  let head: Awaited<ReturnType<typeof schemaOf>>;

  beforeAll(async () => {
    const db = await ownDatabase();
    try {
      head = await schemaOf(db.sql);
    } finally {
      await db.drop();
    }
  });

  it('0004 (the 0003 repair) run again on the schema it produced changes nothing', async () => {
    const db = await ownDatabase({ upTo: 5 });
    const { sql } = db;
    try {
      const before = await schemaOf(sql);
      const repair = fs.readFileSync(path.join(migrationsFolder, '0004_velocity_rings_repair.sql'), 'utf8');
      for (const stmt of repair.split('--> statement-breakpoint')) await sql.unsafe(stmt);
      expect(await schemaOf(sql)).toEqual(before);
    } finally {
      await db.drop();
    }
  });

  it.each(STATES)('from $state: same schema as a fresh database, prior data kept, clicks and purchases counted', async ({ count, replace }) => {
    const db = await ownDatabase({ upTo: count, replace });
    const { sql } = db;
    const gw = testGateway({ url: db.url });
    try {
      await seed(sql, count, replace !== undefined);
      await migrate(db.url);
      // What src/writes/velocity.ts and src/reads/decision-sql.ts call, and nothing else.
      const fns = await sql<{ f: string }[]>`
        select oid::regprocedure::text as f from pg_proc where proname like 'velocity%' order by 1`;
      expect(fns.map((r) => r.f)).toEqual(['velocity_rebase(integer[],bigint)',
        'velocity_window(integer[],bigint,integer,bigint)', 'velocity_write(integer[],integer,bigint,bigint,bigint,integer)']);

      const recorded = ok(await gw.gql(RECORD, { events: [
        { kind: 'CLICK', userId: 'm-user', sessionId: 'm-sess', sku: 'm-hot' },
        { kind: 'PURCHASE', userId: 'm-user', sessionId: 'm-sess', sku: 'm-hot', quantity: 2 },
        { kind: 'CLICK', userId: 'm-user', sessionId: 'm-sess', sku: 'm-cold' },
      ] }));
      expect(recorded.recordEvents).toEqual({ accepted: 3, stock: [{ sku: 'm-hot', available: 18, previous: 20 }] });

      const d = ok(await gw.gql(DECISION, { u: 'm-user', s: 'm-sess', c: ['m-hot', 'm-cold'], r: 'm-eu' })).decisionContext;
      const [hot, cold] = d.candidates;
      expect(hot.item).toEqual({ sku: 'm-hot', title: 'Hot item', category: 'm-cat' });
      expect(hot.inventory.available).toBe(18);
      expect(hot.price).toMatchObject({ amountMinor: 1500, currency: 'EUR', listAmountMinor: 2000 });
      // The purchase (2) on top of the 3 sold 100 s ago; the click on top of the 4 from 10 s ago.
      expect(hot.velocity).toEqual({ salesLast5s: 2, salesLast5m: 5, clicksLast30s: 5 });
      expect(cold.inventory.available).toBe(7);
      expect(cold.velocity).toEqual({ salesLast5s: 0, salesLast5m: 0, clicksLast30s: 1 });
      expect(d.user.segment).toBe('vip');
      expect(d.user.recentPurchases.map((e: { quantity: number }) => e.quantity)).toEqual([2, 3, 5]);
      expect(d.session.recentEvents).toHaveLength(6);
      expect(d.candidates[0].fulfillment).toMatchObject({ region: 'm-eu', congestion: 0.25, latencyMinutes: 30 });

      const rings = await sql`
        select sku, cardinality(sales_5s)::int as s, cardinality(sales_5m)::int as m, cardinality(clicks_30s)::int as c,
               sales_total::int, clicks_total::int
        from sku_counters order by sku`;
      expect(rings).toEqual([
        { sku: 'm-cold', s: SALES_5S_SLOTS, m: SALES_5M_SLOTS, c: CLICKS_30S_SLOTS, sales_total: 0, clicks_total: 1 },
        { sku: 'm-hot', s: SALES_5S_SLOTS, m: SALES_5M_SLOTS, c: CLICKS_30S_SLOTS, sales_total: 10, clicks_total: 5 },
      ]);
      expect(await schemaOf(sql)).toEqual(head);
    } finally {
      await gw.close();
      await db.drop();
    }
  });

  it('a cold SKU upgraded from the original 0003 loses its zero-filled rings (ring_sec 0: never read)', async () => {
    const db = await ownDatabase({ upTo: 4, replace: { '0003_velocity_rings': ORIGINAL_0003 } });
    const { sql } = db;
    try {
      await seed(sql, 4, true);
      await migrate(db.url);
      const rows = await sql`
        select sku, ring_ds > 0 as written, cardinality(sales_5s)::int as s, cardinality(sales_5m)::int as m,
               cardinality(clicks_30s)::int as c
        from sku_counters order by sku`;
      expect(rows).toEqual([
        { sku: 'm-cold', written: false, s: null, m: null, c: null },
        { sku: 'm-hot', written: true, s: SALES_5S_SLOTS, m: SALES_5M_SLOTS, c: CLICKS_30S_SLOTS },
      ]);
    } finally {
      await db.drop();
    }
  });
});
