CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"user_id" text NOT NULL,
	"session_id" text,
	"sku" text,
	"quantity" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fulfillment" (
	"region" text PRIMARY KEY NOT NULL,
	"next_slot_at" timestamp with time zone,
	"congestion" real NOT NULL,
	"latency_minutes" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inventory" (
	"sku" text PRIMARY KEY NOT NULL,
	"available" integer NOT NULL,
	"reserved" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "items" (
	"sku" text PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"category" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "policy_flags" (
	"scope" text NOT NULL,
	"target" text NOT NULL,
	"kind" text NOT NULL,
	"active" boolean NOT NULL,
	"reason" text,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "policy_flags_scope_target_kind_pk" PRIMARY KEY("scope","target","kind")
);
--> statement-breakpoint
CREATE TABLE "prices" (
	"sku" text PRIMARY KEY NOT NULL,
	"amount_minor" integer NOT NULL,
	"currency" text NOT NULL,
	"list_amount_minor" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_event_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sku_counters" (
	"sku" text PRIMARY KEY NOT NULL,
	"sales_total" bigint DEFAULT 0 NOT NULL,
	"clicks_total" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"segment" text
);
--> statement-breakpoint
CREATE TABLE "velocity_seconds" (
	"sku" text NOT NULL,
	"sec" bigint NOT NULL,
	"sales_cum" bigint NOT NULL,
	"clicks_cum" bigint NOT NULL,
	CONSTRAINT "velocity_seconds_sku_sec_pk" PRIMARY KEY("sku","sec")
);
--> statement-breakpoint
ALTER TABLE "inventory" ADD CONSTRAINT "inventory_sku_items_sku_fk" FOREIGN KEY ("sku") REFERENCES "public"."items"("sku") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prices" ADD CONSTRAINT "prices_sku_items_sku_fk" FOREIGN KEY ("sku") REFERENCES "public"."items"("sku") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sku_counters" ADD CONSTRAINT "sku_counters_sku_items_sku_fk" FOREIGN KEY ("sku") REFERENCES "public"."items"("sku") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "events_session_at_idx" ON "events" USING btree ("session_id","at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_user_purchase_at_idx" ON "events" USING btree ("user_id","at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE kind = 'PURCHASE';--> statement-breakpoint
CREATE INDEX "items_category_idx" ON "items" USING btree ("category");--> statement-breakpoint
CREATE INDEX "policy_flags_active_idx" ON "policy_flags" USING btree ("scope","target") WHERE active;