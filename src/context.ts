// What every resolver receives. `loaders` exists only inside a query's
// snapshot transaction (set by reads/snapshot.ts); mutations use `sql`, the
// write pool (PG_WRITE_POOL_MAX), never the snapshots' pool.
import type { Sql } from './db/client.js';
import type { Principal } from './auth/keys.js';
import type { ChangeHub } from './live/hub.js';
import type { DecisionLog } from './log/decision-log.js';
import type { Loaders } from './reads/loaders.js';
import type { Route } from './reads/replicas.js';

export interface Context {
  /** The write pool: mutations' transactions. */
  sql: Sql;
  loaders?: Loaders;
  /** Where the query's snapshot is read (set with `loaders` when read replicas are on; absent: the primary). */
  route?: Route;
  hub?: ChangeHub;
  /** The caller (set by plugins/auth.ts; absent when auth is not wired, e.g. in unit tests). */
  principal?: Principal;
  /** The decision log's queue (absent: nothing is logged, e.g. in unit tests). */
  decisionLog?: DecisionLog;
  /** Seconds after a decision in which events citing it count as its outcomes. */
  attributionWindowS?: number;
  /** Work resolvers leave for the end of the query's snapshot (reads/snapshot.ts runs it). */
  deferred?: Deferred[];
  /** When the query's phases happened (performance.now(); set by reads/snapshot.ts), for metrics and Server-Timing. */
  timing?: SnapshotTiming;
}

export interface SnapshotTiming {
  /** Execution asked for a snapshot. */
  executeAt: number;
  /** The transaction began (a pool connection held, BEGIN written; the reads follow it without waiting for its answer): executeAt to here is pool wait. */
  begunAt?: number;
  /** Every read answered and the result built. */
  readAt?: number;
}

/**
 * `inside` runs after the answer is built, before the snapshot commits (it may
 * still read through the loaders); `after` once the snapshot has committed.
 * Neither can fail or delay the answer beyond what `inside` reads.
 */
export interface Deferred { inside(): Promise<void>; after(): void }
