// The data model. Signals are split by how they change: slowly changing item
// state (items, inventory, prices, flags, fulfillment), per-SKU running totals
// with rings of those totals (sku_counters), and the raw event log
// (events) that sessions and purchase history read.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  varchar,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const items = pgTable('items', {
  sku: text('sku').primaryKey(),
  title: text('title').notNull(),
  category: text('category').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, (t) => [index('items_category_idx').on(t.category)]);

export const inventory = pgTable('inventory', {
  sku: text('sku').primaryKey().references(() => items.sku),
  available: integer('available').notNull(),
  reserved: integer('reserved').notNull().default(0),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const prices = pgTable('prices', {
  sku: text('sku').primaryKey().references(() => items.sku),
  amountMinor: integer('amount_minor').notNull(),
  currency: text('currency').notNull(),
  listAmountMinor: integer('list_amount_minor').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

// Running totals per SKU, and the velocity rings. Every event write locks this
// row first (in SKU order), which serializes writers per SKU and keeps the
// rings' slots monotonic.
//
// A ring holds, slot (slot number mod length), the running total as of the end
// of each of its last `length` slots up to its newest (slots without a write
// carry the total forward). Slots are 100 ms for the 5 s sales and 30 s clicks
// windows (numbered ring_ds: tenths of a second since the epoch) and 1 s for
// the 5 min sales window (ring_ds / 10). A window is the total now − the total
// as of the end of the slot before its first: one array subscript in the SKU's
// own row, whatever the traffic.
//
// Ring values are int4, relative to the rings' base: sales_rel / clicks_rel is
// the running total relative to it (what the newest slot holds). So a row stays
// ~3 KB: inline, uncompressed (STORAGE PLAIN, see drizzle/0005), and with room
// for its next version on its page (fillfactor 10: HOT updates). A write that
// would take rel past 2^31−1 moves the base up to the new total (rel 0) and
// shifts the rings, clamping at −2^31: such a slot is more than 2^31 units
// back, so every window over it reads the ceiling anyway. Windows are exact up
// to 2^31−1 and saturate there; being rel − slot clamped to 0..2^31−1 from
// int4 values, no row can produce one a GraphQL Int cannot hold. The totals
// (running since the first write, saturating at 2^63−1) are not read by windows.
// velocity_write / velocity_window / velocity_rebase in drizzle/0005 do the arithmetic.
//
// Lengths: the window's slots, the slot before it, and margin for a reader
// whose clock is behind the last writer's (2 s for the 100 ms rings, 8 s for 5 min).
export const SALES_5S_SLOTS = 72;
export const CLICKS_30S_SLOTS = 322;
export const SALES_5M_SLOTS = 310;
export const RING_CEILING = 2_147_483_647;
export const skuCounters = pgTable('sku_counters', {
  sku: text('sku').primaryKey().references(() => items.sku),
  salesTotal: bigint('sales_total', { mode: 'number' }).notNull().default(0),
  clicksTotal: bigint('clicks_total', { mode: 'number' }).notNull().default(0),
  salesRel: integer('sales_rel').notNull().default(0),
  clicksRel: integer('clicks_rel').notNull().default(0),
  ringDs: bigint('ring_ds', { mode: 'number' }).notNull().default(0),
  // NULL until the SKU's first sale or click: a cold SKU's row stays small.
  sales5s: integer('sales_5s').array(),
  clicks30s: integer('clicks_30s').array(),
  sales5m: integer('sales_5m').array(),
});

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  segment: text('segment'),
});

export const sessions = pgTable('sessions', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  startedAt: ts('started_at').notNull().defaultNow(),
  lastEventAt: ts('last_event_at'),
});

export const events = pgTable('events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  kind: text('kind').notNull(),
  userId: text('user_id').notNull(),
  sessionId: text('session_id'),
  sku: text('sku'),
  quantity: integer('quantity').notNull(),
  at: ts('at').notNull().defaultNow(),
  // The logged decision this event is an outcome of (decision_log, src/log/), and the candidate's position in it.
  decisionId: uuid('decision_id'),
  position: integer('position'),
}, (t) => [
  index('events_decision_idx').on(t.decisionId).where(sql`decision_id is not null`),
  index('events_session_at_idx').on(t.sessionId, t.at.desc(), t.id.desc()),
  index('events_user_purchase_at_idx').on(t.userId, t.at.desc(), t.id.desc()).where(sql`kind = 'PURCHASE'`),
]);

export const policyFlags = pgTable('policy_flags', {
  scope: text('scope').notNull(),
  target: text('target').notNull(),
  kind: text('kind').notNull(),
  active: boolean('active').notNull(),
  reason: text('reason'),
  changedAt: ts('changed_at').notNull().defaultNow(),
}, (t) => [
  primaryKey({ columns: [t.scope, t.target, t.kind] }),
  index('policy_flags_active_idx').on(t.scope, t.target).where(sql`active`),
]);

export const fulfillment = pgTable('fulfillment', {
  region: text('region').primaryKey(),
  nextSlotAt: ts('next_slot_at'),
  congestion: real('congestion').notNull(),
  latencyMinutes: integer('latency_minutes').notNull().default(0),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

// The transactional change log behind subscriptions. Rows are written at the
// very end of a write transaction under a transaction-level advisory lock
// (see live/changelog.ts), so seq order is commit order.
export const changeLog = pgTable('change_log', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  topic: text('topic').notNull(),
  key: text('key').notNull(),
  payload: jsonb('payload').notNull(),
  committedAt: ts('committed_at').notNull().default(sql`clock_timestamp()`),
}, (t) => [index('change_log_committed_at_idx').on(t.committedAt)]);

// Highest seq removed by retention: a cursor at or below it can no longer be resumed.
export const changeLogMeta = pgTable('change_log_meta', {
  id: integer('id').primaryKey().default(1),
  prunedThrough: bigint('pruned_through', { mode: 'number' }).notNull().default(0),
});

// API keys: only a SHA-256 of the secret is stored. Auth is on while any key is active.
export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  secretHash: text('secret_hash').notNull(),
  role: text('role').notNull(),
  name: text('name').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  revokedAt: ts('revoked_at'),
  /** This key's own rate limit ("200/s:burst400"), over its roles' (RATE_LIMITS); null: its roles'. */
  rateLimit: text('rate_limit'),
});

// rate-limiter-flexible's Postgres store (auth/rate-limits.ts): one row per key and window, shared by every gateway process.
export const rateLimitBuckets = pgTable('rate_limit_buckets', {
  key: varchar('key', { length: 255 }).primaryKey(),
  points: integer('points').notNull().default(0),
  expire: bigint('expire', { mode: 'number' }),
});
