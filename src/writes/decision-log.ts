// The decision log's writes: batches of logged decisions (one statement per
// batch), the daily partitions ahead of time, and retention dropping whole
// partitions. The queue that calls these lives in log/decision-log.ts.
import type { Queryable, Sql, Tx } from '../db/client.js';
import { DomainError } from '../errors.js';

/** One decision_log row, as the batch statement reads it (json_populate_recordset over the table's row type). */
export interface DecisionLogRow {
  decision_id: string;
  read_at: string;
  key_id: string | null;
  user_id: string;
  session_id: string | null;
  region: string | null;
  snapshot_id: string;
  snapshot_cursor: string;
  source: string;
  lag_ms: number;
  context: unknown;
  signals: unknown;
}

/** Writes one batch in one statement; the JSON text is built by the caller (off the request path). */
export async function insertDecisionBatch(sql: Queryable, rowsJson: string): Promise<number> {
  const result = await sql`
    insert into decision_log (decision_id, read_at, logged_at, key_id, user_id, session_id, region,
                              snapshot_id, snapshot_cursor, source, lag_ms, context, signals)
    select decision_id, read_at, now(), key_id, user_id, session_id, region,
           snapshot_id, snapshot_cursor, source, lag_ms, context, signals
    from json_populate_recordset(null::decision_log, (${rowsJson}::text)::json)`;
  return result.count;
}

const DAY_MS = 86_400_000;
/** Partition maintenance from two processes at once takes turns. */
const PARTITION_LOCK = 72_310_014;

/** decision_log_p20261126 holds read_at in [2026-11-26, 2026-11-27) UTC. */
export const partitionName = (dayStartMs: number) =>
  `decision_log_p${new Date(dayStartMs).toISOString().slice(0, 10).replace(/-/g, '')}`;

export const dayStart = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/** Creates the daily partitions covering [from's day, from's day + days) that do not exist yet. */
export async function ensurePartitions(sql: Sql, fromMs: number, days: number): Promise<string[]> {
  const wanted = Array.from({ length: days }, (_, i) => dayStart(fromMs) + i * DAY_MS);
  const made: string[] = [];
  await sql.begin(async (tx) => {
    await partitionDdl(tx);
    const existing = new Set((await tx<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'decision_log'::regclass`).map((r) => r.name));
    for (const start of wanted) {
      const name = partitionName(start);
      if (existing.has(name)) continue;
      // Names and bounds are built from integers only (no caller input).
      const from = new Date(start).toISOString();
      const to = new Date(start + DAY_MS).toISOString();
      await tx.unsafe(`create table ${name} partition of decision_log for values from ('${from}') to ('${to}')`);
      made.push(name);
    }
  });
  return made;
}

/**
 * Partition DDL locks decision_log itself, behind anything reading it (an export's cursor holds it for minutes),
 * and everything after it would queue behind the DDL: the log's inserts, recordEvents citing a decision. So it
 * waits for a lock at most 200 ms and otherwise fails this pass (retried within the hour), rather than stall them.
 */
async function partitionDdl(tx: Tx): Promise<void> {
  await tx`select pg_advisory_xact_lock(${PARTITION_LOCK})`;
  await tx`set local lock_timeout = '200ms'`;
}

/** Drops every partition whose whole range is older than `cutoffMs`; returns their names. */
export async function dropPartitionsBefore(sql: Sql, cutoffMs: number): Promise<string[]> {
  const dropped: string[] = [];
  await sql.begin(async (tx) => {
    await partitionDdl(tx);
    const parts = await tx<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'decision_log'::regclass order by 1`;
    for (const { name } of parts) {
      const m = /^decision_log_p(\d{4})(\d{2})(\d{2})$/.exec(name);
      if (!m) continue;
      const end = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + DAY_MS;
      if (end > cutoffMs) continue;
      await tx.unsafe(`drop table ${name}`);
      dropped.push(name);
    }
  });
  return dropped;
}

interface CitingEvent { userId: string; sku: string | null; decisionId?: string | null; position?: number | null }

/**
 * Events citing a decision (recordEvents): every cited decision must be in the
 * log (NOT_FOUND otherwise), be the event's user's, and a position must hold
 * the event's SKU (BAD_USER_INPUT). Runs inside the batch's transaction, so a
 * refusal writes nothing.
 */
export async function checkCitedDecisions(tx: Tx, events: readonly CitingEvent[]): Promise<void> {
  const ids = [...new Set(events.flatMap((e) => (e.decisionId ? [e.decisionId] : [])))];
  if (!ids.length) return;
  const rows = await tx<{ id: string; userId: string; skus: string[] }[]>`
    select d.decision_id::text as id, d.user_id as "userId",
           array(select s->>'sku' from json_array_elements(d.signals) with ordinality as x(s, o) order by o) as skus
    from decision_log d where d.decision_id = any(${ids}::uuid[])`;
  const found = new Map(rows.map((r) => [r.id, r]));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) {
    throw new DomainError('NOT_FOUND', `Unknown decision id(s): ${missing.join(', ')}: not in the decision log (never logged, `
      + 'dropped from a full queue, or past DECISION_LOG_RETENTION_DAYS); the batch was refused and nothing was written',
    { field: 'decisionId', decisionIds: missing });
  }
  events.forEach((e, i) => {
    if (!e.decisionId) return;
    const d = found.get(e.decisionId)!;
    if (d.userId !== e.userId) {
      throw new DomainError('BAD_USER_INPUT', `events.${i}.decisionId: decision ${e.decisionId} was made for another user; `
        + 'the batch was refused and nothing was written', { field: `events.${i}.decisionId` });
    }
    // Past the candidates there is no SKU at all: refused whatever the event's SKU (a VIEW may have none).
    const held = e.position === null || e.position === undefined ? undefined : d.skus[e.position];
    if (e.position !== null && e.position !== undefined && (held === undefined || held !== e.sku)) {
      throw new DomainError('BAD_USER_INPUT', `events.${i}.position: position ${e.position} of decision ${e.decisionId} is `
        + `${held === undefined ? 'beyond its candidates' : `SKU ${held}`}, not ${e.sku ?? 'no SKU'}; `
        + 'the batch was refused and nothing was written', { field: `events.${i}.position` });
    }
  });
}
