-- 0003 was edited after it landed (c0b6626), and the migrator never re-runs a
-- migration: databases migrated with its first version still have NOT NULL
-- zero-filled rings and the 5-argument velocity_push. This brings either
-- version to the current one; every statement is a no-op on the current one.
ALTER TABLE "sku_counters" ALTER COLUMN "sales_ring" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "sku_counters" ALTER COLUMN "sales_ring" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "sku_counters" ALTER COLUMN "clicks_ring" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "sku_counters" ALTER COLUMN "clicks_ring" DROP DEFAULT;--> statement-breakpoint
-- A SKU that never had a write (ring_sec 0) never reads its ring: give its row
-- back the small NULL form. Rings with writes stay as they are, still valid.
UPDATE "sku_counters" SET "sales_ring" = NULL, "clicks_ring" = NULL
WHERE "ring_sec" = 0 AND ("sales_ring" IS NOT NULL OR "clicks_ring" IS NOT NULL);--> statement-breakpoint
-- Same definitions as the current 0003.
CREATE OR REPLACE FUNCTION velocity_push_into(ring bigint[], ring_sec bigint, sec bigint, old_total bigint, new_total bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN sec = ring_sec THEN ring[:sec % cardinality(ring)] || new_total || ring[sec % cardinality(ring) + 2:]
    ELSE array(
      SELECT CASE WHEN s = sec THEN new_total WHEN s > ring_sec THEN old_total ELSE ring[i + 1] END
      FROM generate_series(0, cardinality(ring) - 1) AS i,
           LATERAL (SELECT sec - (sec - i) % cardinality(ring)) AS x(s)
      ORDER BY i)
  END
$$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION velocity_push(ring bigint[], len int, ring_sec bigint, sec bigint, old_total bigint, new_total bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT velocity_push_into(coalesce(ring, array_fill(old_total, array[len])), ring_sec, sec, old_total, new_total)
$$;--> statement-breakpoint
DROP FUNCTION IF EXISTS velocity_push(bigint[], bigint, bigint, bigint, bigint);
