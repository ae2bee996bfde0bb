// The change log: what subscriptions deliver. Writers append in the same
// transaction as the change; readers page through it by seq.
import type { Queryable, Tx } from '../db/client.js';
import type { Timestamp } from '../db/timestamps.js';
import type { Flag, InventoryCause } from '../domain.js';

export const CHANNEL = 'change_log';
const CHANGE_LOG_LOCK = 72_310_002;

/**
 * reserved/previousReserved are absent from entries logged before reserved-only
 * changes were pushed (the feed then carried changes of `available` only).
 */
export interface InventoryPayload {
  sku: string; available: number; previous: number | null; cause?: InventoryCause;
  reserved?: number; previousReserved?: number | null;
}
export interface PolicyPayload { flag: Flag }

export type Change =
  | { topic: 'inventory'; key: string; payload: InventoryPayload }
  | { topic: 'policy'; key: string; payload: PolicyPayload };

export type LoggedChange = Change & { seq: number; committedAt: Timestamp };

/**
 * Appends changes as the last step of a write transaction. The transaction-level
 * advisory lock is held until commit, so whoever takes the next seq commits
 * after us: seq order is commit order, and a reader that sees seq N already
 * sees every seq below it. A bigserial alone would not give that: a
 * transaction that drew 10 may commit after the one that drew 11. NOTIFY is
 * delivered only on commit, so a rolled-back write announces nothing.
 *
 * The three statements are pipelined (sent together, awaited together): every writer serialises on the lock, and
 * while it is held only COMMIT's round trip through this process remains, not one per statement. On a busy
 * gateway each round trip waits for the event loop, and the lock's hold time bounds write throughput.
 */
export async function appendChanges(tx: Tx, changes: Change[], unsafe: { skipCommitOrderLock?: boolean } = {}): Promise<void> {
  if (changes.length === 0) return;
  // TEST ONLY: skipping the lock exists to show that the feed then loses changes.
  const lock = unsafe.skipCommitOrderLock ? undefined : tx`select pg_advisory_xact_lock(${CHANGE_LOG_LOCK})`;
  const insert = tx`
    insert into change_log (topic, key, payload)
    select e.v->>'topic', e.v->>'key', e.v->'payload'
    from jsonb_array_elements(${tx.json(changes as never)}) with ordinality as e(v, i) order by e.i`;
  const notify = tx`select pg_notify(${CHANNEL}, '')`;
  // Postgres runs them in order (the insert only once the lock is granted); a failure aborts the ones after it,
  // and the first failure is the one reported.
  await Promise.all([lock, insert, notify]);
}

export interface StockRow { sku: string; available: number; reserved: number; previous: number | null; previousReserved: number | null }

/** One entry per SKU whose sellable stock moved: `available` or `reserved` changed (or the SKU is new). */
export function inventoryChanges(rows: StockRow[], cause: InventoryCause): Change[] {
  return rows
    .filter((r) => r.available !== r.previous || r.reserved !== r.previousReserved)
    .map((r) => ({
      topic: 'inventory', key: r.sku,
      payload: { sku: r.sku, available: r.available, reserved: r.reserved, previous: r.previous, previousReserved: r.previousReserved, cause },
    }));
}

/**
 * The newest seq: never behind the pruned-through mark, so a log emptied by
 * retention keeps its head (cursors handed out stay valid) instead of going back to 0.
 */
export const HEAD_SQL = `greatest((select max(seq) from change_log),
  (select pruned_through from change_log_meta where id = 1), 0)`;

/**
 * A page of the log after `after`, with the pruned-through mark from the same
 * statement (one snapshot): when the mark is past `after`, rows the caller
 * needed are gone, and it must say so rather than skip them.
 */
export async function readChanges(db: Queryable, after: number, limit: number): Promise<{ rows: LoggedChange[]; prunedThrough: number }> {
  const [page] = await db<{ rows: { seq: string; topic: Change['topic']; key: string; payload: any; committedAt: Timestamp }[]; pruned: string }[]>`
    select coalesce((select json_agg(c order by c.seq) from (
             select seq, topic, key, payload, committed_at as "committedAt"
             from change_log where seq > ${after} order by seq limit ${limit}) c), '[]') as rows,
           coalesce((select pruned_through from change_log_meta where id = 1), 0)::text as pruned`;
  return { rows: page!.rows.map((r) => ({ ...r, seq: Number(r.seq) })), prunedThrough: Number(page!.pruned) };
}

export async function logBounds(db: Queryable): Promise<{ head: number; prunedThrough: number }> {
  const [row] = await db<{ head: string; pruned: string }[]>`
    select ${db.unsafe(HEAD_SQL)} as head,
           coalesce((select pruned_through from change_log_meta where id = 1), 0) as pruned`;
  return { head: Number(row!.head), prunedThrough: Number(row!.pruned) };
}

/** Drops entries older than the retention; remembers how far, so older cursors are refused. */
export async function pruneChanges(db: Queryable, retentionSeconds: number): Promise<number> {
  const [row] = await db<{ pruned: string | null }[]>`
    with cut as (select max(seq) as seq from change_log
                 where committed_at < now() - make_interval(secs => ${retentionSeconds})),
         del as (delete from change_log where seq <= (select seq from cut) returning seq),
         upd as (update change_log_meta set pruned_through = greatest(pruned_through, (select seq from cut))
                 where id = 1 and (select seq from cut) is not null returning pruned_through)
    select (select count(*) from del)::text as pruned`;
  return Number(row?.pruned ?? 0);
}

/**
 * One page of a subscriber's replay: the entries of `topic` (with one of `keys`,
 * unless null) in (after, until], oldest first, at most `limit`. Filtered here,
 * so a filter that matches little costs one statement over the range instead of
 * every row fetched and parsed in Node; fewer than `limit` rows means the range
 * is done. The pruned-through mark comes from the same statement, as in
 * readChanges: past `after`, entries in the range may be gone (matching or not),
 * and the caller must say so rather than skip them. The range runs on the
 * primary key and topic and key are checked on every row it visits, so the
 * caller keeps (after, until] short enough for one statement.
 */
export async function readReplayPage(
  db: Queryable, filter: { topic: Change['topic']; keys: readonly string[] | null }, after: number, until: number, limit: number,
): Promise<{ rows: LoggedChange[]; prunedThrough: number }> {
  // The keys as a JSON object, tested with `?` (a binary search of its sorted keys) on each row the range
  // visits. Not `key = any($keys)`: under plan_cache_mode=force_generic_plan that is a linear search of
  // the array per row; not a semi-join on the unnested keys either:
  // its generic plan depends on the table's statistics, and without them it re-reads the keys per row.
  // (`?` is no btree condition: an index on (topic, key, seq) would need `key = any(…)` here as well.)
  const keys = filter.keys === null ? db`` : db`and ${db.json(Object.fromEntries(filter.keys.map((k) => [k, 1])))} ? key`;
  const [page] = await db<{ rows: { seq: string; topic: Change['topic']; key: string; payload: any; committedAt: Timestamp }[]; pruned: string }[]>`
    select coalesce((select json_agg(c order by c.seq) from (
             select seq, topic, key, payload, committed_at as "committedAt"
             from change_log where seq > ${after} and seq <= ${until} and topic = ${filter.topic} ${keys}
             order by seq limit ${limit}) c), '[]') as rows,
           coalesce((select pruned_through from change_log_meta where id = 1), 0)::text as pruned`;
  return { rows: page!.rows.map((r) => ({ ...r, seq: Number(r.seq) })), prunedThrough: Number(page!.pruned) };
}
