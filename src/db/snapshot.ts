// A REPEATABLE READ READ ONLY transaction on one reserved connection, with
// BEGIN pipelined ahead of the reads: postgres.js coalesces statements issued
// in the same tick into one socket write, so BEGIN, the decision's reads and
// their results share a round trip instead of waiting for BEGIN first (which
// is what sql.begin does). Statements run in order on the connection, so every
// read is inside the transaction; if BEGIN itself failed, the result is dropped.
import type { Sql } from './client.js';

export type SnapshotSql = Awaited<ReturnType<Sql['reserve']>>;

/** Snapshot transactions holding a pooled connection right now (a pool-use gauge). */
export const snapshotsInFlight = { count: 0 };

export async function inSnapshot<T>(sql: Sql, fn: (tx: SnapshotSql) => Promise<T>): Promise<T> {
  snapshotsInFlight.count++;
  let conn: SnapshotSql;
  try {
    conn = await sql.reserve();
  } catch (err) {
    snapshotsInFlight.count--;
    throw err;
  }
  const begun = conn`begin isolation level repeatable read read only`.execute();
  begun.catch(() => {}); // awaited below; this keeps an early failure from going unhandled
  try {
    const result = await fn(conn);
    await begun;
    await conn`commit`;
    return result;
  } catch (err) {
    await conn`rollback`.catch(() => {});
    throw err;
  } finally {
    conn.release();
    snapshotsInFlight.count--;
  }
}
