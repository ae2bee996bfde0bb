// Velocity counters: running totals and their rings (sku_counters in
// db/schema.ts; the arithmetic is velocity_write / velocity_rebase in
// drizzle/0005). Callers hold the rows' locks (lockSkus), so the clock read
// here is after any earlier writer's; greatest() keeps a SKU's slots monotonic
// even if the clock steps back (the write then lands in a later slot: it counts
// a little longer, never shorter).
import type { Queryable } from '../db/client.js';
import { CLICKS_30S_SLOTS, RING_CEILING, SALES_5M_SLOTS, SALES_5S_SLOTS } from '../db/schema.js';

export interface CounterDelta { sku: string; sales: number; clicks: number }

const MAX_TOTAL = '9223372036854775807';
// More than the ceiling: a write this large saturates every window over it, so
// the ring arithmetic never needs more (and rel + it cannot overflow).
const RING_DELTA_CAP = 2 ** 32;

/**
 * Adds the deltas at `at` (seconds since the epoch; a decimal string is taken
 * exactly): the write's clock (lockSkus), or a test's history; by default
 * the current time.
 */
export async function bumpCounters(tx: Queryable, deltas: readonly CounterDelta[], at?: number | string): Promise<void> {
  if (deltas.length === 0) return;
  const clock = at === undefined
    ? tx`floor(extract(epoch from clock_timestamp()) * 10)::bigint`
    : tx`floor(${String(at)}::numeric * 10)::bigint`;
  // n: per SKU the slot, the new totals (saturating at 2^63−1), the rebase
  // shift (the new rel, when it would pass the ceiling: rel becomes 0) and the
  // rings rebased by it. offset 0 keeps n a subquery, so velocity_write's
  // arguments are plain columns and the planner inlines it.
  await tx`
    update sku_counters k set
      sales_total = n.st, clicks_total = n.ct, ring_ds = n.ds,
      sales_rel = n.sr - n.ss, clicks_rel = n.cr - n.cs,
      sales_5s = velocity_write(n.s5s, ${SALES_5S_SLOTS}, k.ring_ds, n.ds, k.sales_rel - n.ss, (n.sr - n.ss)::int),
      sales_5m = velocity_write(n.s5m, ${SALES_5M_SLOTS}, k.ring_ds / 10, n.ds / 10, k.sales_rel - n.ss, (n.sr - n.ss)::int),
      clicks_30s = velocity_write(n.c30, ${CLICKS_30S_SLOTS}, k.ring_ds, n.ds, k.clicks_rel - n.cs, (n.cr - n.cs)::int)
    from (
      select o.sku, t.ds, t.st, t.ct, t.sr, t.cr, b.ss, b.cs,
             case when b.ss = 0 then o.sales_5s else velocity_rebase(o.sales_5s, b.ss) end as s5s,
             case when b.ss = 0 then o.sales_5m else velocity_rebase(o.sales_5m, b.ss) end as s5m,
             case when b.cs = 0 then o.clicks_30s else velocity_rebase(o.clicks_30s, b.cs) end as c30
      from unnest(${deltas.map((d) => d.sku)}::text[], ${deltas.map((d) => d.sales)}::bigint[],
                  ${deltas.map((d) => d.clicks)}::bigint[]) as d(sku, s, c)
      join sku_counters o on o.sku = d.sku
      cross join (select ${clock} as ds) c
      cross join lateral (select greatest(o.ring_ds, c.ds) as ds,
                                 o.sales_total + least(d.s, ${MAX_TOTAL}::bigint - o.sales_total) as st,
                                 o.clicks_total + least(d.c, ${MAX_TOTAL}::bigint - o.clicks_total) as ct,
                                 o.sales_rel + least(d.s, ${RING_DELTA_CAP}::bigint) as sr,
                                 o.clicks_rel + least(d.c, ${RING_DELTA_CAP}::bigint) as cr) t
      cross join lateral (select case when t.sr > ${RING_CEILING} then t.sr else 0 end as ss,
                                 case when t.cr > ${RING_CEILING} then t.cr else 0 end as cs) b
      offset 0) n
    where k.sku = n.sku`;
}
