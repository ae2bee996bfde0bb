-- Rate-limit counters (rate-limiter-flexible's Postgres store): UNLOGGED, as a crash may lose a
-- second's counts but every decision's increment then writes no WAL.
CREATE UNLOGGED TABLE "rate_limit_buckets" (
	"key" varchar(255) PRIMARY KEY NOT NULL,
	"points" integer DEFAULT 0 NOT NULL,
	"expire" bigint
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "rate_limit" text;
