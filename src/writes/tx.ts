// Write transactions. Every write that touches SKUs first locks their
// sku_counters rows in SKU order (lockSkus): writers on one SKU queue up
// instead of deadlocking, and velocity ring seconds stay monotonic.
import type postgres from 'postgres';
import { admitted, type Sql, type Tx } from '../db/client.js';
import { DomainError, isUnavailable } from '../errors.js';

const RETRYABLE = new Set(['40P01', '40001']); // deadlock, serialization failure

export function inWriteTx<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return admitted(sql, () => withRetries(sql, fn));
}

async function withRetries<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let committing = false;
    try {
      return (await sql.begin('isolation level read committed read write', async (tx) => {
        const result = await fn(tx);
        committing = true;
        return result;
      })) as T;
    } catch (err) {
      // Lost while COMMIT was in flight: it may have been applied. Say so rather than claim a refusal.
      if (committing && isUnavailable(err)) {
        throw new DomainError('UNAVAILABLE',
          'The database went away while committing: this write may or may not have been applied; read before retrying',
          { outcome: 'UNKNOWN' });
      }
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || !code || !RETRYABLE.has(code)) throw err;
    }
  }
}

/**
 * The one instant a write is stamped with, read after its locks: every signal it writes (an event's `at`, stock's
 * and price's `updatedAt`, a session's `lastEventAt`, a flag's `changedAt`, the velocity slot) names the same
 * instant, and it is later than the commit of any writer it waited for. `now()` is the transaction's start,
 * before any lock wait: a purchase that waited 2 s would show an event 2 s older than its velocity slot.
 * `at`: timestamptz text (exact, microseconds); `epoch`: seconds since the epoch, exact decimal text.
 */
export interface WriteClock { at: string; epoch: string }

/**
 * Runs `locking` (a statement taking row locks) and reads the write clock right behind it, in the same round
 * trip: the server answers the clock only once the locks are held.
 */
export async function lockedAt<R extends readonly postgres.MaybeRow[]>(
  tx: Tx, locking: postgres.PendingQuery<R>,
): Promise<[postgres.RowList<R>, WriteClock]> {
  // Started first (queries are lazy), so it is the first on the wire.
  const locked = locking.execute();
  const [clock] = await tx<WriteClock[]>`
    select t::text as at, extract(epoch from t)::text as epoch from (select clock_timestamp() as t) c`;
  return [await locked, clock!];
}

/** Locks the SKUs' counter rows in order; returns the SKUs that exist and the write's clock, read after the locks. */
export async function lockSkus(tx: Tx, skus: readonly string[]): Promise<{ known: Set<string>; clock: WriteClock }> {
  const [rows, clock] = await lockedAt(tx, tx<{ sku: string }[]>`
    select sku from sku_counters where sku = any(${skus as string[]}::text[]) order by sku for update`);
  return { known: new Set(rows.map((r) => r.sku)), clock };
}

/** lockSkus for one SKU that must exist (NOT_FOUND otherwise); returns the write's clock. */
export async function lockSku(tx: Tx, sku: string): Promise<WriteClock> {
  const { known, clock } = await lockSkus(tx, [sku]);
  if (!known.has(sku)) throw new DomainError('NOT_FOUND', `Unknown SKU "${sku}"`, { sku });
  return clock;
}

export const sortedUnique = (values: Iterable<string>): string[] => [...new Set(values)].sort();
