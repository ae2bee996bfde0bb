// The reads behind one decision, as few statements as the data allows:
// per-decision facts (snapshot, user, session, fulfillment) in one statement,
// candidate state (item, stock, price, flags) in one, candidate velocity in one.
// All windows are measured back from the transaction's own now().
import type { Queryable } from '../db/client.js';
import type { Timestamp } from '../db/timestamps.js';
import { BUYING_KINDS, INTEREST_KINDS, type Event, type Flag, type Fulfillment, type Intent, type Velocity } from '../domain.js';
import { HEAD_SQL } from '../live/changelog.js';

export const PREFETCH_SESSION_EVENTS = 20;
export const PREFETCH_PURCHASES = 10;

export interface FactsKey {
  userId: string; sessionId: string | null; region: string | null;
  /**
   * Prefetch the session's and the user's recent events (the query selects a list, or the decision is logged).
   * Without it the lists are null and a list field reads them with one more statement: they cost more
   * than the rest of the facts together (~0.11 of ~0.21 ms of Postgres CPU for a 15-event session).
   */
  eventLists: boolean;
}

export interface Facts {
  snapshotId: string;
  /** The newest change-log entry this snapshot sees: subscribe with after: it for a gap-free seam. */
  changeCursor: string;
  readAt: Timestamp;
  segment: string | null;
  userFlags: Flag[];
  /** Null unless the key asked for eventLists. */
  purchases: Event[] | null;
  sessionLastEventAt: Timestamp | null;
  intent: Intent | null;
  /** Null unless the key asked for eventLists. */
  sessionEvents: Event[] | null;
  fulfillment: Fulfillment | null;
}

/** Facts read with eventLists: what a logged decision needs. */
export type FactsWithLists = Facts & { purchases: Event[]; sessionEvents: Event[] };

export function hasEventLists(f: Facts): f is FactsWithLists {
  return f.purchases !== null && f.sessionEvents !== null;
}

const FLAG_JSON = `json_build_object('scope', f.scope, 'target', f.target, 'kind', f.kind,
  'active', f.active, 'reason', f.reason, 'changedAt', f.changed_at)`;
const EVENT_JSON = `json_build_object('kind', e.kind, 'sku', e.sku, 'quantity', e.quantity, 'at', e.at)`;

/** The facts statement, not yet sent (postgres.js queries are lazy): readFacts, or a part of readFactsAndState. */
function factsQuery(db: Queryable, key: FactsKey) {
  const { userId, region } = key;
  // Another user's session reads as an empty one: it is neither shown nor used for intent.
  return db<Facts[]>`
    with own as materialized (select id from sessions where id = ${key.sessionId} and user_id = ${userId}),
    w as (
      select e.kind, e.sku from events e
      -- at most 30 minutes old, as the velocity windows count an event whose age is at most the window
      where e.session_id = (select id from own) and e.user_id = ${userId} and e.at >= now() - interval '30 minutes'
    )
    select
      pg_current_snapshot()::text as "snapshotId",
      (${db.unsafe(HEAD_SQL)})::text as "changeCursor",
      now() as "readAt",
      (select segment from users where id = ${userId}) as segment,
      (select coalesce(json_agg(${db.unsafe(FLAG_JSON)}), '[]')
         from policy_flags f where f.scope = 'USER' and f.target = ${userId} and f.active) as "userFlags",
      -- a false case never runs its subquery (an initplan runs when first used)
      case when ${key.eventLists}::boolean then (select coalesce(json_agg(${db.unsafe(EVENT_JSON)} order by e.at desc, e.id desc), '[]')
         -- a literal, not SALE_KIND as a parameter: the partial index events_user_purchase_at_idx matches only a literal
         from (select * from events where user_id = ${userId} and kind = 'PURCHASE'
               order by at desc, id desc limit ${PREFETCH_PURCHASES}) e) end as purchases,
      (select last_event_at from sessions where id = (select id from own)) as "sessionLastEventAt",
      case
        when ${key.sessionId}::text is null then null
        when exists (select 1 from w where kind = any(${BUYING_KINDS as string[]}::text[])) then 'BUYING'
        when exists (select 1 from w where kind = any(${INTEREST_KINDS as string[]}::text[]) and sku is not null
                     group by sku having count(*) >= 2)
          -- items joined here, not in w: only a session that reached this test pays for the lookups
          or exists (select 1 from w join items i on i.sku = w.sku where w.kind = any(${INTEREST_KINDS as string[]}::text[])
                     group by i.category having count(distinct w.sku) >= 3) then 'CONSIDERING'
        else 'BROWSING'
      end as intent,
      case when ${key.eventLists}::boolean then (select coalesce(json_agg(${db.unsafe(EVENT_JSON)} order by e.at desc, e.id desc), '[]')
         from (select * from events where session_id = (select id from own) and user_id = ${userId}
               order by at desc, id desc limit ${PREFETCH_SESSION_EVENTS}) e) end as "sessionEvents",
      (select json_build_object('region', region, 'nextSlotAt', next_slot_at,
              'congestion', congestion, 'latencyMinutes', latency_minutes)
         from fulfillment where region = ${region}) as fulfillment`;
}

export async function readFacts(db: Queryable, key: FactsKey): Promise<Facts> {
  const [row] = await factsQuery(db, key);
  return row!;
}

/** Longer event lists than the facts statement prefetches, all lists of one tick in one statement. */
export interface EventListKey { of: 'session' | 'purchases'; id: string; limit: number; userId: string }

export async function readEventLists(db: Queryable, keys: readonly EventListKey[]): Promise<Event[][]> {
  const rows = await db<{ idx: number; events: Event[] }[]>`
    select k.idx::int as idx, coalesce((
      select json_agg(${db.unsafe(EVENT_JSON)} order by e.at desc, e.id desc)
      from (select * from events ev
            -- a session's events only for its owner, as the facts statement reads them
            where ev.user_id = k.uid and ((k.of = 'session' and ev.session_id = k.id
                                           and exists (select 1 from sessions s where s.id = k.id and s.user_id = k.uid))
               or (k.of = 'purchases' and ev.kind = 'PURCHASE'))
            order by ev.at desc, ev.id desc limit k.lim) e), '[]') as events
    from unnest(${keys.map((k) => k.of)}::text[], ${keys.map((k) => k.id)}::text[], ${keys.map((k) => k.userId)}::text[],
                ${keys.map((k) => k.limit)}::int[]) with ordinality as k(of, id, uid, lim, idx)`;
  const byIdx = new Map(rows.map((r) => [r.idx, r.events]));
  return keys.map((_, i) => byIdx.get(i + 1) ?? []);
}

export interface StateRow {
  sku: string;
  title: string | null;
  category: string | null;
  available: number | null;
  reserved: number | null;
  /** Postgres' json form ("…+00:00"); the DateTime scalar formats the ones a query asks for. */
  inventoryUpdatedAt: string | null;
  amountMinor: number | null;
  currency: string | null;
  listAmountMinor: number | null;
  priceUpdatedAt: string | null;
  /** Null for an unknown SKU. */
  velocity: Velocity | null;
  flags: Flag[] | null;
}

/** readState's positional encoding of one candidate: StateRow's fields in this order, velocity flattened. */
type StateTuple = [
  sku: string, title: string | null, category: string | null, available: number | null, reserved: number | null,
  inventoryUpdatedAt: string | null, amountMinor: number | null, currency: string | null, listAmountMinor: number | null,
  priceUpdatedAt: string | null, salesLast5s: number | null, salesLast5m: number | null, clicksLast30s: number | null,
];

// Everything per candidate in one statement: item, stock, price, velocity
// (one subscript per window into the SKU's rings: one row, no scan, whatever
// the traffic; see sku_counters in db/schema.ts and Velocity below), as one JSON
// array (one JSON.parse in Node instead of decoding 50 rows column by column),
// plus the flags that apply to any candidate from one index scan (rather than
// a probe per candidate), matched to candidates here.
// Each candidate is a positional array, not an object: Postgres spends more on
// a json_build_object's keys (~0.4 µs each, 14 per candidate) than on the
// values, timestamps included (~0.4 µs each), and arrays parse faster in Node.
interface StateResult { rows: StateTuple[]; flags: Flag[] }

function stateQuery(db: Queryable, skus: readonly string[]) {
  return db<StateResult[]>`
    with s as materialized (
      select c.sku, i.title, i.category, inv.available, inv.reserved, inv.updated_at as inv_at,
             p.amount_minor, p.currency, p.list_amount_minor, p.updated_at as price_at,
             -- null for a SKU without counters (unknown), told apart from a cold one (0s)
             case when k.sku is not null then velocity_window(k.sales_5s, k.ring_ds, k.sales_rel, t.ds - 50) end as sales_5s,
             case when k.sku is not null then velocity_window(k.sales_5m, k.ring_ds / 10, k.sales_rel, t.ds / 10 - 300) end as sales_5m,
             case when k.sku is not null then velocity_window(k.clicks_30s, k.ring_ds, k.clicks_rel, t.ds - 300) end as clicks_30s
      from unnest(${skus as string[]}::text[]) as c(sku)
      -- now() in 100 ms slots; offset 0 keeps it computed once, not per use per row (numeric math)
      cross join (select floor(extract(epoch from now()) * 10)::bigint as ds offset 0) t
      left join items i on i.sku = c.sku
      left join inventory inv on inv.sku = c.sku
      left join prices p on p.sku = c.sku
      left join sku_counters k on k.sku = c.sku)
    select
      (select coalesce(json_agg(json_build_array(sku, title, category, available, reserved, inv_at,
         amount_minor, currency, list_amount_minor, price_at, sales_5s, sales_5m, clicks_30s)), '[]') from s) as rows,
      (select coalesce(json_agg(${db.unsafe(FLAG_JSON)}), '[]') from policy_flags f
        where f.active and ((f.scope = 'SKU' and f.target = any(${skus as string[]}::text[]))
                         -- no distinct: a repeated category matches the same, without a hash table per statement
                         or (f.scope = 'CATEGORY' and f.target = any(array(select category from s))))) as flags`;
}

export async function readState(db: Queryable, skus: readonly string[]): Promise<StateRow[]> {
  const [row] = await stateQuery(db, skus);
  return stateRows(row!);
}

/**
 * Facts and candidate state as ONE statement, both statements above as subqueries of one
 * row: a single statement reads a single snapshot, so it needs no transaction at all.
 */
export async function readFactsAndState(db: Queryable, key: FactsKey, skus: readonly string[]): Promise<{ facts: Facts; state: StateRow[] }> {
  const [row] = await db<(Facts & StateResult)[]>`select * from (${factsQuery(db, key)}) f cross join (${stateQuery(db, skus)}) s`;
  const { rows, flags, ...facts } = row!;
  return { facts, state: stateRows({ rows, flags }) };
}

/** Each candidate's own flags and its category's, matched here from the one list the statement read. */
function stateRows({ rows: tuples, flags }: StateResult): StateRow[] {
  const rows = tuples.map(stateRow);
  const byTarget = new Map<string, Flag[]>();
  for (const f of flags) {
    const key = `${f.scope}\u0000${f.target}`;
    const list = byTarget.get(key);
    if (list) list.push(f); else byTarget.set(key, [f]);
  }
  for (const r of rows) {
    const own = byTarget.get(`SKU\u0000${r.sku}`);
    const inherited = r.category === null ? undefined : byTarget.get(`CATEGORY\u0000${r.category}`);
    r.flags = own && inherited ? [...own, ...inherited] : own ?? inherited ?? null;
  }
  return rows;
}

/** A StateRow from its positional encoding. */
function stateRow(t: StateTuple): StateRow {
  return {
    sku: t[0], title: t[1], category: t[2], available: t[3], reserved: t[4], inventoryUpdatedAt: t[5],
    amountMinor: t[6], currency: t[7], listAmountMinor: t[8], priceUpdatedAt: t[9],
    velocity: t[10] === null ? null : { salesLast5s: t[10], salesLast5m: t[11]!, clicksLast30s: t[12]! },
    flags: null,
  };
}
