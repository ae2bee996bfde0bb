// Write transactions. Every write that touches SKUs first locks their
// sku_counters rows in SKU order (lockSkus): writers on one SKU queue up
// instead of deadlocking, and velocity checkpoints stay monotonic.
import type { Sql, Tx } from '../db/client.js';

const RETRYABLE = new Set(['40P01', '40001']); // deadlock, serialization failure

export async function inWriteTx<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await sql.begin('isolation level read committed read write', fn)) as T;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || !code || !RETRYABLE.has(code)) throw err;
    }
  }
}

/** Locks the SKUs' counter rows in order; returns the SKUs that exist. */
export async function lockSkus(tx: Tx, skus: readonly string[]): Promise<Set<string>> {
  if (skus.length === 0) return new Set();
  const rows = await tx<{ sku: string }[]>`
    select sku from sku_counters where sku = any(${skus as string[]}::text[]) order by sku for update`;
  return new Set(rows.map((r) => r.sku));
}

export const sortedUnique = (values: Iterable<string>): string[] => [...new Set(values)].sort();
