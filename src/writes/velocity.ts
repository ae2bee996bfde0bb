// Velocity counters: running totals and their per-second rings (sku_counters;
// the arithmetic is velocity_push in drizzle/0003). Callers hold the rows'
// locks (lockSkus), so the clock read here is after any earlier writer's and a
// SKU's ring seconds never go backwards.
import type { Queryable } from '../db/client.js';
import { CLICKS_RING, SALES_RING } from '../db/schema.js';

export interface CounterDelta { sku: string; sales: number; clicks: number }

/** Adds the deltas at the current second (or at `sec`, for tests that build a history). */
export async function bumpCounters(tx: Queryable, deltas: readonly CounterDelta[], sec?: number): Promise<void> {
  if (deltas.length === 0) return;
  const clock = sec === undefined
    ? tx`floor(extract(epoch from clock_timestamp()))::bigint`
    : tx`${sec}::bigint`;
  await tx`
    update sku_counters k set
      sales_total = k.sales_total + d.s,
      clicks_total = k.clicks_total + d.c,
      sales_ring = velocity_push(k.sales_ring, ${SALES_RING}, k.ring_sec, greatest(k.ring_sec, c.sec), k.sales_total, k.sales_total + d.s),
      clicks_ring = velocity_push(k.clicks_ring, ${CLICKS_RING}, k.ring_sec, greatest(k.ring_sec, c.sec), k.clicks_total, k.clicks_total + d.c),
      ring_sec = greatest(k.ring_sec, c.sec)
    from unnest(${deltas.map((d) => d.sku)}::text[], ${deltas.map((d) => d.sales)}::int[],
                ${deltas.map((d) => d.clicks)}::int[]) as d(sku, s, c),
         (select ${clock} as sec) c
    where k.sku = d.sku`;
}
