// The velocity rings against a brute-force model: after any history of writes
// (gaps of any length, several writes in one second), every window a reader
// can ask for equals the sum of the writes inside it — including a reader
// whose clock is a few seconds behind the last writer's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import postgres from 'postgres';
import { afterAll, expect, it } from 'vitest';
import { migrate, migrationsFolder } from '../src/db/migrate.js';
import { CLICKS_RING, SALES_RING } from '../src/db/schema.js';
import { bumpCounters } from '../src/writes/velocity.js';
import { items, ok, ownDatabase, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('vel');
afterAll(() => gw.close());

const START = 1_800_000_000;
const write = fc.record({ gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 6, max: 700 })),
  sales: fc.integer({ min: 0, max: 9 }), clicks: fc.integer({ min: 0, max: 9 }) });

it('every window equals the sum of the writes inside it', async () => {
  let run = 0;
  await fc.assert(fc.asyncProperty(
    fc.array(write, { minLength: 1, maxLength: 25 }),
    fc.integer({ min: -9, max: 20 }), // reader's second relative to the last write
    async (writes, readerLag) => {
      const k = `${p}-${run++}`;
      ok(await gw.gql(UPSERT, { items: items(p, { [k.slice(p.length + 1)]: {} }) }));
      let sec = START;
      const history: { sec: number; sales: number; clicks: number }[] = [];
      for (const w of writes) {
        sec += w.gap;
        history.push({ sec, sales: w.sales, clicks: w.clicks });
        await bumpCounters(gw.sql, [{ sku: k, sales: w.sales, clicks: w.clicks }], sec);
      }
      const reader = sec + readerLag;
      // Every window from 0 to 300 s, in one statement.
      const rows = await gw.sql<{ window: number; sales: number; clicks: number }[]>`
        select w as window,
               (sales_total - velocity_total_at(sales_ring, ring_sec, sales_total, ${reader} - w))::int as sales,
               (clicks_total - velocity_total_at(clicks_ring, ring_sec, clicks_total, ${reader} - w))::int as clicks
        from sku_counters, generate_series(0, 300) w where sku = ${k} order by w`;
      for (const { window, sales, clicks } of rows) {
        const inside = history.filter((h) => h.sec > reader - window); // the window is (reader − window, reader]
        expect({ window, sales }).toEqual({ window, sales: inside.reduce((n, h) => n + h.sales, 0) });
        // The clicks ring is shorter: only windows it covers are promised.
        if (sec - (reader - window) < CLICKS_RING) {
          expect({ window, clicks }).toEqual({ window, clicks: inside.reduce((n, h) => n + h.clicks, 0) });
        }
      }
      expect(rows).toHaveLength(301);
    },
  ), { numRuns: 60 });
  expect(run).toBe(60);
});

it('gives a SKU its rings at its first sale or click, at their fixed length, stored inline and uncompressed', async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { cold: {}, warm: {} }) }));
  await bumpCounters(gw.sql, [{ sku: `${p}-warm`, sales: 1, clicks: 0 }]);
  const rows = await gw.sql<{ sku: string; s: number | null; c: number | null }[]>`
    select sku, cardinality(sales_ring)::int as s, cardinality(clicks_ring)::int as c
    from sku_counters where sku in (${`${p}-cold`}, ${`${p}-warm`}) order by sku`;
  expect(rows).toEqual([{ sku: `${p}-cold`, s: null, c: null }, { sku: `${p}-warm`, s: SALES_RING, c: CLICKS_RING }]);
  const storage = await gw.sql<{ attname: string; attstorage: string }[]>`
    select attname, attstorage::text from pg_attribute
    where attrelid = 'sku_counters'::regclass and attname in ('sales_ring', 'clicks_ring') order by attname`;
  expect(storage).toEqual([{ attname: 'clicks_ring', attstorage: 'p' }, { attname: 'sales_ring', attstorage: 'p' }]);
});

it('upgrading from per-second checkpoint rows keeps every window', async () => {
  // Migrate a database only up to 0002 (checkpoint rows), write a history there, then upgrade.
  const db = await ownDatabase({ migrated: false });
  const old = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-mig-'));
  fs.cpSync(migrationsFolder, old, { recursive: true });
  const journalFile = path.join(old, 'meta', '_journal.json');
  const journal = JSON.parse(fs.readFileSync(journalFile, 'utf8'));
  journal.entries = journal.entries.filter((e: { tag: string }) => e.tag < '0003');
  fs.writeFileSync(journalFile, JSON.stringify(journal));
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await migrate(db.url, old);
    const [{ s }] = (await sql`select floor(extract(epoch from now()))::int as s`) as unknown as [{ s: number }];
    await sql`insert into items (sku, title, category) values ('up-1', 'Up', 'c'), ('up-2', 'Quiet', 'c')`;
    // 5 sales 400 s ago, 3 more 100 s ago, 2 more 2 s ago; clicks 4 at 60 s ago, 1 at 2 s ago.
    await sql`insert into sku_counters (sku, sales_total, clicks_total) values ('up-1', 10, 5), ('up-2', 7, 0)`;
    await sql`insert into velocity_seconds (sku, sec, sales_cum, clicks_cum)
      values ('up-1', ${s - 400}, 5, 0), ('up-1', ${s - 100}, 8, 0), ('up-1', ${s - 60}, 8, 4), ('up-1', ${s - 2}, 10, 5),
             ('up-2', ${s - 1000}, 7, 0)`;
    await migrate(db.url);
    const rows = await sql<{ sku: string; w5: number; w300: number; c30: number }[]>`
      select sku, (sales_total - velocity_total_at(sales_ring, ring_sec, sales_total, ${s} - 5))::int as w5,
             (sales_total - velocity_total_at(sales_ring, ring_sec, sales_total, ${s} - 300))::int as w300,
             (clicks_total - velocity_total_at(clicks_ring, ring_sec, clicks_total, ${s} - 30))::int as c30
      from sku_counters order by sku`;
    expect(rows).toEqual([{ sku: 'up-1', w5: 2, w300: 5, c30: 1 }, { sku: 'up-2', w5: 0, w300: 0, c30: 0 }]);
    const [gone] = await sql`select to_regclass('velocity_seconds') as t`;
    expect(gone!.t).toBeNull();
  } finally {
    await sql.end();
    fs.rmSync(old, { recursive: true, force: true });
    await db.drop();
  }
});
