ALTER TABLE "events" ADD COLUMN "decision_id" uuid;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "position" integer;--> statement-breakpoint
CREATE INDEX "events_decision_idx" ON "events" USING btree ("decision_id") WHERE decision_id is not null;--> statement-breakpoint
-- The decision log (src/log/): one row per logged decision, written in batches after the answer.
-- Partitioned by day of read_at (the snapshot's now()): retention drops whole partitions, and the
-- gateway creates each day's partition ahead of time (src/writes/decision-log.ts), so none is made here.
-- The primary key must hold the partition key; decision ids are UUIDv7 (unique and time-ordered).
-- context and signals are json, not jsonb: stored as written (no conversion on insert, half the bytes on
-- disk); only the export and the outcome checks read into them.
CREATE TABLE "decision_log" (
	"decision_id" uuid NOT NULL,
	"read_at" timestamp with time zone NOT NULL,
	"logged_at" timestamp with time zone DEFAULT now() NOT NULL,
	"key_id" text,
	"user_id" text NOT NULL,
	"session_id" text,
	"region" text,
	"snapshot_id" text NOT NULL,
	"snapshot_cursor" bigint NOT NULL,
	"source" text NOT NULL,
	"lag_ms" integer NOT NULL,
	"context" json NOT NULL,
	"signals" json NOT NULL,
	PRIMARY KEY ("decision_id", "read_at")
) PARTITION BY RANGE ("read_at");
--> statement-breakpoint
-- The attribution window the view uses: `SET decision_log.attribution_window = '1 hour'` in a session
-- to change it there; 30 minutes otherwise (the gateway passes DECISION_ATTRIBUTION_WINDOW_S itself).
CREATE FUNCTION decision_attribution_window() RETURNS interval
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('decision_log.attribution_window', true), '')::interval, interval '30 minutes')
$$;
--> statement-breakpoint
-- Every click, add-to-cart and purchase that cites a logged decision and was recorded within `win`
-- after its snapshot. One definition: the view below and the gateway's reads both use it.
CREATE FUNCTION decision_outcomes_within(win interval) RETURNS TABLE (
	decision_id uuid, read_at timestamp with time zone, event_id bigint, kind text, sku text,
	"position" integer, quantity integer, at timestamp with time zone
)
LANGUAGE sql STABLE AS $$
  SELECT d.decision_id, d.read_at, e.id, e.kind, e.sku, e.position, e.quantity, e.at
  FROM decision_log d JOIN events e ON e.decision_id = d.decision_id
  WHERE e.kind IN ('CLICK', 'ADD_TO_CART', 'PURCHASE') AND e.at >= d.read_at AND e.at <= d.read_at + win
$$;
--> statement-breakpoint
CREATE VIEW "decision_outcomes" AS SELECT * FROM decision_outcomes_within(decision_attribution_window());
