// Velocity windows: the rings against a brute-force model (any history of
// writes, any window start a reader within the margin can ask for); each window
// covering its stated length at its stated slot (a sale 4.9 s old counts, 5.1 s
// does not); windows that saturate at the largest GraphQL Int instead of failing
// the decision; and upgrades from every earlier layout keeping every window.
import fc from 'fast-check';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { CLICKS_30S_SLOTS, RING_CEILING, SALES_5M_SLOTS, SALES_5S_SLOTS } from '../src/db/schema.js';
import { readState } from '../src/reads/decision-sql.js';
import { MAX_EVENT_QUANTITY, MAX_EVENTS, MAX_STOCK } from '../src/schema/inputs.js';
import { bumpCounters } from '../src/writes/velocity.js';
import { DECISION, items, ok, ownDatabase, RECORD, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('vel');
afterAll(() => gw.close());

const C = RING_CEILING;
const MAX_TOTAL = 2n ** 63n - 1n;
const US_PER_DS = 100_000n;

/** Microseconds since the epoch as an exact decimal number of seconds. */
const seconds = (us: bigint) => `${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, '0')}`;
const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

/** One ring's windows of a SKU for every start in [from, to] (slot numbers), in one statement. */
async function windows(db: postgres.Sql, sku: string, ring: 'sales_5s' | 'sales_5m' | 'clicks_30s', from: bigint, to: bigint) {
  const slot = ring === 'sales_5m' ? db`ring_ds / 10` : db`ring_ds`;
  const rel = ring === 'clicks_30s' ? db`clicks_rel` : db`sales_rel`;
  const rows = await db<{ start: string; n: number }[]>`
    select s::text as start, velocity_window(${db(ring)}, ${slot}, ${rel}, s) as n
    from sku_counters, generate_series(${String(from)}::bigint, ${String(to)}::bigint) s where sku = ${sku} order by s`;
  return rows.map((r) => ({ start: BigInt(r.start), n: r.n }));
}

const START_US = 1_800_000_000_000_000n;
const amount = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 9 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000_000_000, max: 3_000_000_000 }) });
const write = fc.record({
  // In 100 ms slots: same slot, a few slots, past the 5 s ring, past every ring; rarely a clock step back.
  gap: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 9 }) },
    { weight: 3, arbitrary: fc.integer({ min: 10, max: 120 }) }, { weight: 2, arbitrary: fc.integer({ min: 121, max: 4000 }) },
    { weight: 1, arbitrary: fc.integer({ min: -30, max: -1 }) }),
  offsetUs: fc.integer({ min: 0, max: 99_999 }),
  sales: amount,
  clicks: amount,
});

describe('rings', () => {
  it('every window a reader within the margin can ask for equals the units written in its slots (saturating)', async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 25 }), async (writes) => {
      const k = `${p}-${run++}`;
      ok(await gw.gql(UPSERT, { items: items(p, { [k.slice(p.length + 1)]: {} }) }));
      let ds = START_US / US_PER_DS;
      let last = 0n; // the ring's newest slot: writes never move it back
      const history: { ds: bigint; sales: bigint; clicks: bigint }[] = [];
      for (const w of writes) {
        ds += BigInt(w.gap);
        await bumpCounters(gw.sql, [{ sku: k, sales: w.sales, clicks: w.clicks }], seconds(ds * US_PER_DS + BigInt(w.offsetUs)));
        last = ds > last ? ds : last;
        history.push({ ds: last, sales: BigInt(w.sales), clicks: BigInt(w.clicks) });
      }
      const expected = (of: 'sales' | 'clicks', since: (h: { ds: bigint }) => boolean) => {
        const n = history.filter(since).reduce((s, h) => s + h[of], 0n);
        return Number(n > BigInt(C) ? BigInt(C) : n);
      };
      const rings = [
        { ring: 'sales_5s', of: 'sales', len: SALES_5S_SLOTS, slot: (d: bigint) => d },
        { ring: 'sales_5m', of: 'sales', len: SALES_5M_SLOTS, slot: (d: bigint) => d / 10n },
        { ring: 'clicks_30s', of: 'clicks', len: CLICKS_30S_SLOTS, slot: (d: bigint) => d },
      ] as const;
      for (const { ring, of, len, slot } of rings) {
        const newest = slot(last);
        // Exact from the oldest start the ring holds (newest − len + 2) to past the newest slot;
        // further back (a reader behind by more than the margin) it may only under-count.
        const got = await windows(gw.sql, k, ring, newest - BigInt(len) - 5n, newest + 3n);
        for (const { start, n } of got) {
          const want = expected(of, (h) => slot(h.ds) >= start);
          if (start >= newest - BigInt(len) + 2n) expect({ ring, start, n }).toEqual({ ring, start, n: want });
          else expect(n, `${ring} start ${start}`).toBeLessThanOrEqual(want);
        }
      }
      const [row] = await gw.sql<{ st: string; ct: string }[]>`
        select sales_total::text as st, clicks_total::text as ct from sku_counters where sku = ${k}`;
      const sum = (of: 'sales' | 'clicks') => history.reduce((s, h) => s + h[of], 0n);
      expect(row).toEqual({ st: String(sum('sales')), ct: String(sum('clicks')) });
    }), { numRuns: 60 });
    expect(run).toBe(60);
  });

  it('gives a SKU its rings at its first sale or click, at their fixed length, inline and uncompressed, a row small enough for HOT updates', async () => {
    ok(await gw.gql(UPSERT, { items: items(p, { cold: {}, warm: {} }) }));
    await bumpCounters(gw.sql, [{ sku: `${p}-warm`, sales: 1, clicks: 0 }]);
    const rows = await gw.sql<{ sku: string; s: number | null; m: number | null; c: number | null }[]>`
      select sku, cardinality(sales_5s)::int as s, cardinality(sales_5m)::int as m, cardinality(clicks_30s)::int as c
      from sku_counters where sku in (${`${p}-cold`}, ${`${p}-warm`}) order by sku`;
    expect(rows).toEqual([{ sku: `${p}-cold`, s: null, m: null, c: null },
      { sku: `${p}-warm`, s: SALES_5S_SLOTS, m: SALES_5M_SLOTS, c: CLICKS_30S_SLOTS }]);
    const storage = await gw.sql<{ attname: string; attstorage: string }[]>`
      select attname, attstorage::text from pg_attribute
      where attrelid = 'sku_counters'::regclass and attname in ('sales_5s', 'sales_5m', 'clicks_30s') order by attname`;
    expect(storage.map((s) => s.attstorage)).toEqual(['p', 'p', 'p']);
    // Two versions of an active SKU's row fit one 8 KB page: updates stay HOT (fillfactor 10, 0003).
    const [row] = await gw.sql<{ size: number }[]>`select pg_column_size(k.*) as size from sku_counters k where sku = ${`${p}-warm`}`;
    expect(row!.size).toBeLessThan(4000);
  });
});

describe('windows cover their stated length', () => {
  // One unit per SKU at each age, written and read in one transaction: now() is
  // the same for the writes (times computed exactly from it) and for readState.
  const AGES = {
    salesLast5s: [4.35, 4.9, 4.95, 5.0, 5.05, 5.1, 5.2],
    clicksLast30s: [29.9, 30.0, 30.05, 30.1, 30.2],
    salesLast5m: [298.9, 299.9, 300.0, 300.5, 301.0, 301.1],
  } as const;
  type Field = keyof typeof AGES;
  const SLOT_US: Record<Field, bigint> = { salesLast5s: US_PER_DS, clicksLast30s: US_PER_DS, salesLast5m: 1_000_000n };
  const WINDOW_US: Record<Field, bigint> = { salesLast5s: 5_000_000n, clicksLast30s: 30_000_000n, salesLast5m: 300_000_000n };
  /** The stated rule: a unit counts when its slot is at or after the slot holding now − window. */
  const counts = (field: Field, nowUs: bigint, writtenUs: bigint) =>
    floorDiv(writtenUs, SLOT_US[field]) >= floorDiv(nowUs - WINDOW_US[field], SLOT_US[field]);

  it('a unit counts while its age is at most the window, never once it is a slot older, by the slot rule in between', async () => {
    const ROUNDS = 4; // readers at whatever point of their slot now() falls
    const cases = Array.from({ length: ROUNDS }, (_, round) => Object.entries(AGES).flatMap(([field, ages]) =>
      ages.map((age, i) => ({ field: field as Field, ageUs: BigInt(Math.round(age * 1e6)), sku: `${p}-age-${round}-${field}-${i}` }))));
    ok(await gw.gql(UPSERT, { items: cases.flat().map((c) => ({ ...items(p, { x: {} })[0]!, sku: c.sku })) }));
    for (const round of cases) {
      const { nowUs, state } = await gw.sql.begin(async (tx) => {
        const [clock] = await tx<{ us: string }[]>`select (extract(epoch from now()) * 1000000)::bigint::text as us`;
        const now = BigInt(clock!.us);
        for (const c of round) {
          const one = c.field === 'clicksLast30s' ? { sales: 0, clicks: 1 } : { sales: 1, clicks: 0 };
          await bumpCounters(tx, [{ sku: c.sku, ...one }], seconds(now - c.ageUs));
        }
        return { nowUs: now, state: await readState(tx, round.map((c) => c.sku)) };
      });
      for (const c of round) {
        const n = state.find((s) => s.sku === c.sku)!.velocity![c.field];
        const rule = counts(c.field, nowUs, nowUs - c.ageUs);
        expect({ field: c.field, ageUs: c.ageUs, nowUs, n }).toEqual({ field: c.field, ageUs: c.ageUs, nowUs, n: rule ? 1 : 0 });
        if (c.ageUs <= WINDOW_US[c.field]) expect(n).toBe(1); // e.g. 4.35 s, 4.9 s, 5.0 s
        if (c.ageUs >= WINDOW_US[c.field] + SLOT_US[c.field]) expect(n).toBe(0); // e.g. 5.1 s
      }
    }
  });

  it('through the API: a decision counts by the same rule at its snapshot clock (readAt)', async () => {
    const ages = [...AGES.salesLast5s.map((a) => ['salesLast5s', a] as const), ...AGES.clicksLast30s.map((a) => ['clicksLast30s', a] as const)];
    const skus = ages.map((_, i) => `${p}-api-${i}`);
    ok(await gw.gql(UPSERT, { items: skus.map((sku) => ({ ...items(p, { x: {} })[0]!, sku })) }));
    const [clock] = await gw.sql<{ us: string }[]>`select (extract(epoch from clock_timestamp()) * 1000000)::bigint::text as us`;
    const base = BigInt(clock!.us);
    for (const [i, [field, age]] of ages.entries()) {
      const one = field === 'clicksLast30s' ? { sales: 0, clicks: 1 } : { sales: 1, clicks: 0 };
      await bumpCounters(gw.sql, [{ sku: skus[i]!, ...one }], seconds(base - BigInt(Math.round(age * 1e6))));
    }
    const d = ok(await gw.gql(DECISION, { u: `${p}-u`, c: skus })).decisionContext;
    const readUs = BigInt(Date.parse(d.snapshot.readAt)) * 1000n; // ms: never crosses a 100 ms slot boundary
    for (const [i, [field, age]] of ages.entries()) {
      const written = base - BigInt(Math.round(age * 1e6));
      expect({ field, age, n: d.candidates[i].velocity[field] })
        .toEqual({ field, age, n: counts(field, readUs, written) ? 1 : 0 });
      if (age >= 5.1 && field === 'salesLast5s') expect(d.candidates[i].velocity[field]).toBe(0); // older at readAt still
    }
  });
});

describe('no counter makes a decision fail', () => {
  const read = async (sku: string) => {
    const res = await gw.gql(DECISION, { u: `${p}-u`, c: [sku] });
    return ok(res).decisionContext.candidates[0].velocity;
  };

  // The 5 s window holds the batches written in its last 5 s: on a loaded machine three 10,000-event batches can
  // take longer than that, so it holds the newest one, two or all three (clamped); the 30 s and 5 min windows hold all.
  const recentBatches = (n: number) => Array.from({ length: n }, (_, j) => Math.min((j + 1) * MAX_EVENTS * MAX_EVENT_QUANTITY, C));

  it('CLICKs and PURCHASEs through the API at the per-event bound, past 2^31 in every window: the windows read the ceiling', async () => {
    const sku = `${p}-flood`;
    ok(await gw.gql(UPSERT, { items: items(p, { flood: { available: MAX_STOCK } }) }));
    const batch = (kind: string) => Array.from({ length: MAX_EVENTS }, () => ({ kind, userId: `${p}-u`, sku, quantity: MAX_EVENT_QUANTITY }));
    // Each batch is 10^9 units; the third takes every window past 2^31 − 1.
    for (let i = 0; i < 3; i++) {
      ok(await gw.gql(RECORD, { events: batch('CLICK') }));
      ok(await gw.gql(RECORD, { events: batch('PURCHASE') }));
      ok(await gw.gql(UPSERT, { items: items(p, { flood: { available: MAX_STOCK } }) })); // restock
      const v = await read(sku);
      const sold = Math.min((i + 1) * MAX_EVENTS * MAX_EVENT_QUANTITY, C);
      expect({ salesLast5m: v.salesLast5m, clicksLast30s: v.clicksLast30s }).toEqual({ salesLast5m: sold, clicksLast30s: sold });
      expect(recentBatches(i + 1)).toContain(v.salesLast5s);
    }
    const [row] = await gw.sql<{ st: string; ct: string }[]>`
      select sales_total::text as st, clicks_total::text as ct from sku_counters where sku = ${sku}`;
    expect(row).toEqual({ st: '3000000000', ct: '3000000000' });
    const last = await read(sku);
    expect({ salesLast5m: last.salesLast5m, clicksLast30s: last.clicksLast30s }).toEqual({ salesLast5m: C, clicksLast30s: C });
    expect(recentBatches(3)).toContain(last.salesLast5s);
  });

  it('totals near 2^63 and bursts far past 2^31: writes and decisions succeed, windows exact below the ceiling', async () => {
    const sku = `${p}-huge`;
    ok(await gw.gql(UPSERT, { items: items(p, { huge: {} }) }));
    // Written directly: totals a few units short of 2^63 − 1, clicks 2·10^9 up since the rings' base.
    await gw.sql`update sku_counters set sales_total = ${String(MAX_TOTAL - 10n)}, clicks_total = ${String(MAX_TOTAL - 10n)},
      clicks_rel = 2000000000 where sku = ${sku}`;
    await gw.sql.begin(async (tx) => {
      const [clock] = await tx<{ us: string }[]>`select (extract(epoch from now()) * 1000000)::bigint::text as us`;
      const now = BigInt(clock!.us);
      // 4·10^18 sales 100 s ago and 5·10^9 clicks 40 s ago, then a few units recently.
      await bumpCounters(tx, [{ sku, sales: 4e18, clicks: 0 }], seconds(now - 100_000_000n));
      await bumpCounters(tx, [{ sku, sales: 0, clicks: 5e9 }], seconds(now - 40_000_000n));
      await bumpCounters(tx, [{ sku, sales: 3, clicks: 0 }], seconds(now - 8_000_000n));
      await bumpCounters(tx, [{ sku, sales: 7, clicks: 2 }], seconds(now - 1_000_000n));
      const [s] = await readState(tx, [sku]);
      // The 5 s window holds 7, the 5 min window saturates; clicks: 2 in 30 s (the burst is 40 s old).
      expect(s!.velocity).toEqual({ salesLast5s: 7, salesLast5m: C, clicksLast30s: 2 });
      const [row] = await tx<{ st: string; ct: string }[]>`
        select sales_total::text as st, clicks_total::text as ct from sku_counters where sku = ${sku}`;
      expect(row).toEqual({ st: String(MAX_TOTAL), ct: String(MAX_TOTAL) }); // saturated, not failed
    });
    // Through the API on top: accepted, and the decision succeeds.
    ok(await gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: `${p}-u`, sku, quantity: MAX_EVENT_QUANTITY },
      { kind: 'PURCHASE', userId: `${p}-u`, sku, quantity: 1 }] }));
    expect(await read(sku)).toEqual({ salesLast5s: 8, salesLast5m: C, clicksLast30s: MAX_EVENT_QUANTITY + 2 });
  });
});

describe('upgrading', () => {
  it('from per-second checkpoint rows keeps every window', async () => {
    // Migrate a database only up to 0002 (checkpoint rows), write a history there, then upgrade.
    const db = await ownDatabase({ upTo: 3 });
    const { sql } = db;
    try {
      const [{ s }] = (await sql`select floor(extract(epoch from now()))::int as s`) as unknown as [{ s: number }];
      await sql`insert into items (sku, title, category) values ('up-1', 'Up', 'c'), ('up-2', 'Quiet', 'c')`;
      // 5 sales 400 s ago, 3 more 100 s ago, 2 more 2 s ago; clicks 4 at 60 s ago, 1 at 2 s ago.
      await sql`insert into sku_counters (sku, sales_total, clicks_total) values ('up-1', 10, 5), ('up-2', 7, 0)`;
      await sql`insert into velocity_seconds (sku, sec, sales_cum, clicks_cum)
        values ('up-1', ${s - 400}, 5, 0), ('up-1', ${s - 100}, 8, 0), ('up-1', ${s - 60}, 8, 4), ('up-1', ${s - 2}, 10, 5),
               ('up-2', ${s - 1000}, 7, 0)`;
      await migrate(db.url);
      // Windows as readState computes them, for a reader at the start of second s.
      const rows = await sql<{ sku: string; w5: number; w300: number; c30: number }[]>`
        select sku, velocity_window(sales_5s, ring_ds, sales_rel, ${s * 10 - 50}) as w5,
               velocity_window(sales_5m, ring_ds / 10, sales_rel, ${s - 300}) as w300,
               velocity_window(clicks_30s, ring_ds, clicks_rel, ${s * 10 - 300}) as c30
        from sku_counters order by sku`;
      expect(rows).toEqual([{ sku: 'up-1', w5: 2, w300: 5, c30: 1 }, { sku: 'up-2', w5: 0, w300: 0, c30: 0 }]);
      const [gone] = await sql`select to_regclass('velocity_seconds') as t`;
      expect(gone!.t).toBeNull();
    } finally {
      await db.drop();
    }
  });

  it('from per-second rings (0003/0004) carries every window: exact per second; 100 ms slots place each second\'s units at its end', async () => {
    const db = await ownDatabase({ upTo: 5 }); // up to 0004: per-second rings
    const { sql } = db;
    try {
      const secAmount = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 9 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1_000_000_000, max: 3_000_000_000 }) });
      const histories = fc.sample(fc.array(fc.record({
        gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 6, max: 400 })),
        sales: secAmount, clicks: secAmount,
      }), { minLength: 1, maxLength: 15 }), { numRuns: 25, seed: 5 });
      const S0 = 1_800_000_000n;
      const written: { sku: string; history: { sec: bigint; sales: bigint; clicks: bigint }[] }[] = [];
      for (const [h, writes] of histories.entries()) {
        const sku = `old-${h}`;
        await sql`insert into items (sku, title, category) values (${sku}, 'Old', 'c')`;
        await sql`insert into sku_counters (sku) values (${sku})`;
        let sec = S0;
        const history = [];
        for (const w of writes) {
          sec += BigInt(w.gap);
          // What the gateway of 0003/0004 wrote (src/writes/velocity.ts then).
          await sql`update sku_counters set sales_total = sales_total + ${w.sales}, clicks_total = clicks_total + ${w.clicks},
            sales_ring = velocity_push(sales_ring, 310, ring_sec, ${String(sec)}::bigint, sales_total, sales_total + ${w.sales}),
            clicks_ring = velocity_push(clicks_ring, 40, ring_sec, ${String(sec)}::bigint, clicks_total, clicks_total + ${w.clicks}),
            ring_sec = ${String(sec)} where sku = ${sku}`;
          history.push({ sec, sales: BigInt(w.sales), clicks: BigInt(w.clicks) });
        }
        written.push({ sku, history });
      }
      await sql`insert into items (sku, title, category) values ('old-cold', 'Cold', 'c')`;
      await sql`insert into sku_counters (sku) values ('old-cold')`;
      await migrate(db.url);

      /** Every window the rings hold exactly, against the units' slots. */
      const check = async (sku: string, list: { ds: bigint; sales: bigint; clicks: bigint }[]) => {
        const newest = list.at(-1)!.ds;
        const sum = (of: 'sales' | 'clicks', since: (u: { ds: bigint }) => boolean) => {
          const n = list.filter(since).reduce((s, u) => s + u[of], 0n);
          return Number(n > BigInt(C) ? BigInt(C) : n);
        };
        const checks = [
          { ring: 'sales_5s', top: newest, len: SALES_5S_SLOTS, want: (s: bigint) => sum('sales', (u) => u.ds >= s) },
          { ring: 'clicks_30s', top: newest, len: CLICKS_30S_SLOTS, want: (s: bigint) => sum('clicks', (u) => u.ds >= s) },
          { ring: 'sales_5m', top: newest / 10n, len: SALES_5M_SLOTS, want: (s: bigint) => sum('sales', (u) => u.ds / 10n >= s) },
        ] as const;
        for (const { ring, top, len, want } of checks) {
          for (const { start, n } of await windows(sql, sku, ring, top - BigInt(len) + 2n, top + 2n)) {
            expect({ sku, ring, start, n }).toEqual({ sku, ring, start, n: want(start) });
          }
        }
      };
      for (const { sku, history } of written) {
        // Each second's units at its last 100 ms slot.
        const units = history.map((h) => ({ ds: h.sec * 10n + 9n, sales: h.sales, clicks: h.clicks }));
        await check(sku, units);
        // Writes after the upgrade go on from there (3.1 s after the last second's end).
        const after = units.at(-1)!.ds + 31n;
        await bumpCounters(sql, [{ sku, sales: 1, clicks: 1 }], seconds(after * US_PER_DS + 5n));
        await check(sku, [...units, { ds: after, sales: 1n, clicks: 1n }]);
      }
      const rows = await sql`
        select sku, sales_rel as s, clicks_rel as c, ring_ds, sales_5s is null as cold
        from sku_counters where sku = 'old-cold'`;
      expect(rows).toEqual([{ sku: 'old-cold', s: 0, c: 0, ring_ds: '0', cold: true }]);
    } finally {
      await db.drop();
    }
  });
});
