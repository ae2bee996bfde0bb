// One REPEATABLE READ READ ONLY transaction for a whole query operation.
//
// (Pipelining BEGIN with the reads on a reserved connection saves a round trip,
// but postgres.js 3.4.9 cannot recover a reserved connection whose server went
// away — calls then hang — so snapshots use sql.begin, which it does recover.)
import { admitted, type Sql, type Tx } from './client.js';

/** Snapshot transactions holding a pooled connection right now (a pool-use gauge). */
export const snapshotsInFlight = { count: 0 };

export async function inSnapshot<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  snapshotsInFlight.count++;
  try {
    return await admitted(sql, async () => (await sql.begin('isolation level repeatable read read only', fn)) as T);
  } finally {
    snapshotsInFlight.count--;
  }
}
