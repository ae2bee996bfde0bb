// The decision log's reads: a page of logged decisions (decisionLog), one
// decision's outcomes (decisionOutcomes), and the export's stream of
// (decision, candidate) rows with their outcomes. Outcomes come from the SQL
// function behind the decision_outcomes view (drizzle/0006), so the window is
// defined once.
import type { Queryable, Sql } from '../db/client.js';
import type { DecisionLogRow } from '../writes/decision-log.js';

export interface LoggedRow extends DecisionLogRow { logged_at: string }

export interface OutcomeRow { eventId: string; kind: 'CLICK' | 'ADD_TO_CART' | 'PURCHASE'; sku: string | null; position: number | null; quantity: number; at: string }

/** Up to `first` logged decisions after `after` (decision id order, which is time order), and whether more follow. */
export async function readDecisionLogPage(db: Queryable, after: string | null, first: number): Promise<{ rows: LoggedRow[]; hasNextPage: boolean }> {
  const rows = await db<LoggedRow[]>`
    select decision_id::text, read_at, logged_at, key_id, user_id, session_id, region, snapshot_id,
           snapshot_cursor::text, source, lag_ms, context, signals
    from decision_log where ${after}::uuid is null or decision_id > ${after}::uuid
    order by decision_id limit ${first + 1}`;
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
}

/** A logged decision's outcomes within the window; null when the decision is not in the log. */
export async function readDecisionOutcomes(db: Queryable, decisionId: string, windowS: number): Promise<OutcomeRow[] | null> {
  const [row] = await db<{ found: boolean; outcomes: OutcomeRow[] }[]>`
    select exists (select 1 from decision_log where decision_id = ${decisionId}::uuid) as found,
      coalesce((select json_agg(json_build_object('eventId', o.event_id::text, 'kind', o.kind, 'sku', o.sku,
                'position', o.position, 'quantity', o.quantity, 'at', o.at) order by o.at, o.event_id)
        from decision_outcomes_within(${windowS} * interval '1 second') o where o.decision_id = ${decisionId}::uuid), '[]') as outcomes`;
  return row!.found ? row!.outcomes : null;
}

/** One exported row: a (decision, candidate) pair with its signals and the outcomes citing that candidate. */
export interface ExportRow extends Omit<DecisionLogRow, 'context' | 'signals'> {
  position: number;
  sku: string;
  title: string | null;
  category: string | null;
  available: number | null;
  reserved: number | null;
  inventory_updated_at: string | null;
  amount_minor: number | null;
  currency: string | null;
  list_amount_minor: number | null;
  price_updated_at: string | null;
  sales_last_5s: number;
  sales_last_5m: number;
  clicks_last_30s: number;
  /** JSON text: the active flags on the SKU or its category, with changedAt. */
  policy: string;
  eligible: boolean;
  /** Comma-separated ineligibility reasons ('' when eligible). */
  reasons: string;
  segment: string | null;
  intent: string | null;
  /** JSON text: user flags, session events, purchases and fulfillment as read. */
  context: string;
  clicks: number;
  add_to_carts: number;
  purchases: number;
  purchased_units: number;
}

export const EXPORT_COLUMNS: readonly (keyof ExportRow)[] = [
  'decision_id', 'read_at', 'key_id', 'user_id', 'session_id', 'region', 'snapshot_id', 'snapshot_cursor', 'source', 'lag_ms',
  'position', 'sku', 'title', 'category', 'available', 'reserved', 'inventory_updated_at', 'amount_minor', 'currency',
  'list_amount_minor', 'price_updated_at', 'sales_last_5s', 'sales_last_5m', 'clicks_last_30s', 'policy', 'eligible', 'reasons',
  'segment', 'intent', 'context', 'clicks', 'add_to_carts', 'purchases', 'purchased_units',
];

/**
 * Every (decision, candidate) logged with `since` ≤ read_at < `until`, in decision order, read
 * through a cursor `batch` rows at a time (constant memory). An outcome counts
 * for the candidate at its position, or, without a position, for every
 * candidate with its SKU.
 */
export function exportRows(sql: Sql, since: string, until: string, windowS: number, batch = 1000) {
  return sql<ExportRow[]>`
    select d.decision_id::text, d.read_at, d.key_id, d.user_id, d.session_id, d.region, d.snapshot_id,
           d.snapshot_cursor::text, d.source, d.lag_ms,
           (x.o - 1)::int as position, x.s->>'sku' as sku, x.s->'item'->>'title' as title, x.s->'item'->>'category' as category,
           (x.s->'inventory'->>'available')::int as available, (x.s->'inventory'->>'reserved')::int as reserved,
           x.s->'inventory'->>'updatedAt' as inventory_updated_at,
           (x.s->'price'->>'amountMinor')::int as amount_minor, x.s->'price'->>'currency' as currency,
           (x.s->'price'->>'listAmountMinor')::int as list_amount_minor, x.s->'price'->>'updatedAt' as price_updated_at,
           (x.s->'velocity'->>'salesLast5s')::int as sales_last_5s, (x.s->'velocity'->>'salesLast5m')::int as sales_last_5m,
           (x.s->'velocity'->>'clicksLast30s')::int as clicks_last_30s,
           (x.s->'policy')::text as policy, (x.s->>'eligible')::boolean as eligible,
           array_to_string(array(select json_array_elements_text(x.s->'reasons')), ',') as reasons,
           d.context->>'segment' as segment, d.context->>'intent' as intent, d.context::text as context,
           -- Read as 2,147,483,647 above it (like velocity windows): one decision's counts must never fail the whole export.
           least(coalesce(o.clicks, 0), 2147483647)::int as clicks, least(coalesce(o.add_to_carts, 0), 2147483647)::int as add_to_carts,
           least(coalesce(o.purchases, 0), 2147483647)::int as purchases, least(coalesce(o.purchased_units, 0), 2147483647)::int as purchased_units
    from decision_log d
    cross join lateral json_array_elements(d.signals) with ordinality as x(s, o)
    left join lateral (
      select count(*) filter (where w.kind = 'CLICK') as clicks, count(*) filter (where w.kind = 'ADD_TO_CART') as add_to_carts,
             count(*) filter (where w.kind = 'PURCHASE') as purchases, sum(w.quantity) filter (where w.kind = 'PURCHASE') as purchased_units
      from decision_outcomes_within(${windowS} * interval '1 second') w
      where w.decision_id = d.decision_id
        and (w.position = x.o - 1 or (w.position is null and w.sku = x.s->>'sku'))) o on true
    where d.read_at >= ${since}::timestamptz and d.read_at < ${until}::timestamptz
    order by d.decision_id, x.o`.cursor(batch);
}
