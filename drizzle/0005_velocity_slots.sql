-- Velocity windows of their stated length, and windows that always fit a
-- GraphQL Int (see sku_counters in src/db/schema.ts). The per-second rings of
-- 0003 made salesLast5s cover 4 to 5 s; now the 5 s and 30 s windows have
-- 100 ms slots (numbered ring_ds, tenths of a second since the epoch) and the
-- 5 min window 1 s slots (ring_ds / 10). Ring values are int4 relative to a
-- base (rel: the total relative to it), so the row stays ~3 KB with three rings.
ALTER TABLE "sku_counters" ADD COLUMN "sales_rel" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sku_counters" ADD COLUMN "clicks_rel" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sku_counters" ADD COLUMN "ring_ds" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sku_counters" ADD COLUMN "sales_5s" integer[];--> statement-breakpoint
ALTER TABLE "sku_counters" ADD COLUMN "clicks_30s" integer[];--> statement-breakpoint
ALTER TABLE "sku_counters" ADD COLUMN "sales_5m" integer[];--> statement-breakpoint
-- Inline and uncompressed, as in 0003: a read never detoasts.
ALTER TABLE "sku_counters" ALTER COLUMN "sales_5s" SET STORAGE PLAIN;--> statement-breakpoint
ALTER TABLE "sku_counters" ALTER COLUMN "clicks_30s" SET STORAGE PLAIN;--> statement-breakpoint
ALTER TABLE "sku_counters" ALTER COLUMN "sales_5m" SET STORAGE PLAIN;--> statement-breakpoint
-- Units in slots `start` and later: rel − the total as of the end of slot
-- start − 1. After the newest slot: none. Older than the ring (a reader's clock
-- more than the margin behind the writer's): from the oldest slot on, which
-- under-counts. Never written: ring NULL and ring_slot 0, so every start is
-- after the newest slot. From int4 operands, clamped to 0..2^31−1: whatever a
-- row holds, the result is an int4 (a GraphQL Int), never an error or NULL.
CREATE FUNCTION velocity_window(ring integer[], ring_slot bigint, rel integer, start bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(least(greatest(CASE
    WHEN start > ring_slot THEN 0
    WHEN start > ring_slot - cardinality(ring) + 1 THEN rel::bigint - ring[(start - 1) % cardinality(ring) + 1]
    ELSE rel::bigint - ring[(ring_slot + 1) % cardinality(ring) + 1]
  END, 0), 2147483647), 0)::integer
$$;--> statement-breakpoint
-- The ring after a write in slot `slot` (>= ring_slot) moved rel from old_rel
-- to new_rel: slots after ring_slot and before `slot` carry old_rel, `slot`
-- gets new_rel, the rest is kept. Built from slices (no per-slot evaluation)
-- in one expression, so the planner inlines it. NULL (no write yet) is a ring
-- of len slots. old_rel below −2^31 (right after a rebase) is clamped: see
-- velocity_rebase.
CREATE FUNCTION velocity_write(ring integer[], len integer, ring_slot bigint, slot bigint, old_rel bigint, new_rel integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN ring IS NULL OR slot - ring_slot >= cardinality(ring)
      THEN array_fill(greatest(old_rel, -2147483648)::integer, array[(slot % coalesce(cardinality(ring), len))::integer])
        || new_rel
        || array_fill(greatest(old_rel, -2147483648)::integer,
                      array[(coalesce(cardinality(ring), len) - 1 - slot % coalesce(cardinality(ring), len))::integer])
    WHEN slot = ring_slot
      THEN ring[:slot % cardinality(ring)] || new_rel || ring[slot % cardinality(ring) + 2:]
    WHEN (ring_slot + 1) % cardinality(ring) <= slot % cardinality(ring)
      THEN ring[:(ring_slot + 1) % cardinality(ring)]
        || array_fill(greatest(old_rel, -2147483648)::integer, array[(slot - ring_slot - 1)::integer])
        || new_rel || ring[slot % cardinality(ring) + 2:]
    ELSE array_fill(greatest(old_rel, -2147483648)::integer, array[(slot % cardinality(ring))::integer])
      || new_rel || ring[slot % cardinality(ring) + 2:(ring_slot + 1) % cardinality(ring)]
      || array_fill(greatest(old_rel, -2147483648)::integer, array[(cardinality(ring) - (ring_slot + 1) % cardinality(ring))::integer])
  END
$$;--> statement-breakpoint
-- The ring relative to a base `shift` higher. A slot that would fall below
-- −2^31 is clamped there: it lies more than 2^31 units back, so every window
-- over it reads the ceiling either way. Runs once per 2^31 units per SKU.
CREATE FUNCTION velocity_rebase(ring integer[], shift bigint) RETURNS integer[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT array(SELECT greatest(v - shift, -2147483648)::integer FROM unnest(ring) WITH ORDINALITY AS u(v, i) ORDER BY i)
$$;--> statement-breakpoint
-- Carry the per-second rings over, relative to base = total (rel 0). The 5 min
-- ring keeps every second exactly. The 100 ms rings only know second
-- boundaries: each second's units are placed in its last 100 ms slot (ring_ds
-- ends the last written second), so for the first 5 s / 30 s after the upgrade
-- a unit written before it may count up to 0.9 s longer than its age says,
-- never shorter. A SKU never written keeps NULL rings and ring_ds 0.
UPDATE "sku_counters" k SET
  "ring_ds" = k.ring_sec * 10 + 9,
  "sales_5m" = array(
    SELECT greatest(velocity_total_at(k.sales_ring, k.ring_sec, k.sales_total, k.ring_sec - (k.ring_sec - i) % 310) - k.sales_total,
                    -2147483648)::integer
    FROM generate_series(0, 309) AS i ORDER BY i),
  "sales_5s" = array(
    SELECT greatest(velocity_total_at(k.sales_ring, k.ring_sec, k.sales_total, (u + 1) / 10 - 1) - k.sales_total, -2147483648)::integer
    FROM generate_series(0, 71) AS i, LATERAL (SELECT k.ring_sec * 10 + 9 - (k.ring_sec * 10 + 9 - i) % 72) AS x(u) ORDER BY i),
  "clicks_30s" = array(
    SELECT greatest(velocity_total_at(k.clicks_ring, k.ring_sec, k.clicks_total, (u + 1) / 10 - 1) - k.clicks_total, -2147483648)::integer
    FROM generate_series(0, 321) AS i, LATERAL (SELECT k.ring_sec * 10 + 9 - (k.ring_sec * 10 + 9 - i) % 322) AS x(u) ORDER BY i),
  -- Emptied here, so the rows are compact before the columns go.
  "sales_ring" = NULL,
  "clicks_ring" = NULL
WHERE k.ring_sec > 0 AND k.sales_ring IS NOT NULL AND k.clicks_ring IS NOT NULL;--> statement-breakpoint
ALTER TABLE "sku_counters" DROP COLUMN "ring_sec";--> statement-breakpoint
ALTER TABLE "sku_counters" DROP COLUMN "sales_ring";--> statement-breakpoint
ALTER TABLE "sku_counters" DROP COLUMN "clicks_ring";--> statement-breakpoint
DROP FUNCTION velocity_push(bigint[], integer, bigint, bigint, bigint, bigint);--> statement-breakpoint
DROP FUNCTION velocity_push_into(bigint[], bigint, bigint, bigint, bigint);--> statement-breakpoint
DROP FUNCTION velocity_total_at(bigint[], bigint, bigint, bigint);
