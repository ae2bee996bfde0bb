CREATE TABLE "change_log" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"committed_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "change_log_meta" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"pruned_through" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "change_log_committed_at_idx" ON "change_log" USING btree ("committed_at");--> statement-breakpoint
INSERT INTO "change_log_meta" ("id", "pruned_through") VALUES (1, 0) ON CONFLICT DO NOTHING;
