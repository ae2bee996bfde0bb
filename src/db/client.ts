// The postgres.js pool. Timeouts are short on purpose: callers on the page path
// budget tens of milliseconds, so an unreachable database must fail fast.
import postgres from 'postgres';
import type { Config } from '../config.js';
import { DomainError, httpStatus } from '../errors.js';
import { Turns } from '../util.js';
import { timestamptz } from './timestamps.js';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;
/** Anything that can run a tagged-template statement: the pool or a transaction. */
export type Queryable = Sql | Tx;

// postgres.js queues work for a busy pool without bound; this caps the
// transactions in progress or waiting at poolMax + poolQueueMax, and refuses
// the rest at once (OVERLOADED) instead of letting them wait past their budget.
// Each pool has its own gate: a flood of writes fills the write pool's, never the snapshots'.
// Within a pool, callers (API keys) take turns for its connections, and one caller may hold at most
// half of the gate: a key flooding the pool with expensive reads delays another key's decision by
// one turn, and cannot fill the queue so that everyone else is refused.
interface Gate {
  active: number; limit: number; pool: string; deadlineMs: number;
  turns: Turns; perOwner: Map<string, number>; ownerLimit: number;
}
const gates = new WeakMap<Sql, Gate>();

export type PoolConfig = Pick<Config, 'poolMax' | 'connectTimeoutSeconds' | 'statementTimeoutMs'> & Partial<Pick<Config, 'poolQueueMax'>>
  & { /** Names the pool in its OVERLOADED message (default: the database pool). */ pool?: string };

export function createSql(url: string, config: PoolConfig, debug?: (connection: number, query: string) => void): Sql {
  const sql = postgres(url, {
    max: config.poolMax,
    connect_timeout: config.connectTimeoutSeconds,
    idle_timeout: 60,
    // Retry a lost database every 0.2 s instead of the driver's backoff (up to 20 s, during which
    // queued queries wait without any timeout): during an outage calls fail fast, after it they recover at once.
    backoff: () => 0.2,
    onnotice: () => {},
    types: { timestamptz },
    connection: {
      TimeZone: 'UTC',
      statement_timeout: config.statementTimeoutMs,
      idle_in_transaction_session_timeout: Math.max(config.statementTimeoutMs * 5, 5000),
      application_name: 'decision-gateway',
      // Prepared statements keep one generic plan instead of re-planning each call (array params would otherwise get custom plans).
      plan_cache_mode: 'force_generic_plan',
      // The working set is in memory: a random read costs about what a sequential one does. At the
      // default (4) the planner hash-joins whole tables for a decision's few keys instead of looking them up by index.
      random_page_cost: 1.1,
    },
    ...(debug ? { debug: (conn: number, query: string) => debug(conn, query) } : {}),
  });
  const limit = config.poolMax + (config.poolQueueMax ?? 100);
  gates.set(sql, {
    active: 0, limit, pool: config.pool ?? 'database pool',
    turns: new Turns(config.poolMax), perOwner: new Map(), ownerLimit: Math.max(1, Math.ceil(limit / 2)),
    // A read-only transaction outliving this gets UNAVAILABLE (see withDeadline).
    deadlineMs: config.statementTimeoutMs * 2 + config.connectTimeoutSeconds * 1000,
  });
  return sql;
}

/** Transactions admitted to `sql` now (in progress or waiting for a connection), for a gauge. */
export const admittedNow = (sql: Sql): number => gates.get(sql)?.active ?? 0;

/**
 * Runs one transaction's worth of work if the pool's queue has room (and `owner`, the caller's key,
 * holds less than half of it), in its turn among the callers waiting for a connection; OVERLOADED otherwise.
 */
export async function admitted<T>(sql: Sql, fn: () => Promise<T>, owner: string | null = null): Promise<T> {
  const gate = gates.get(sql);
  if (!gate) return fn();
  const held = owner === null ? 0 : gate.perOwner.get(owner) ?? 0;
  if (gate.active >= gate.limit || held >= gate.ownerLimit) {
    throw new DomainError('OVERLOADED', gate.active >= gate.limit
      ? `The gateway's ${gate.pool} is saturated; retry shortly`
      : `This key has ${held} operations in progress or waiting on the gateway's ${gate.pool}, half of what it holds; retry when some have answered`, {
      http: httpStatus('OVERLOADED', { 'retry-after': '1' }),
    });
  }
  gate.active++;
  if (owner !== null) gate.perOwner.set(owner, held + 1);
  try {
    return await gate.turns.run(owner, fn);
  } finally {
    gate.active--;
    if (owner !== null) {
      const left = (gate.perOwner.get(owner) ?? 1) - 1;
      if (left > 0) gate.perOwner.set(owner, left); else gate.perOwner.delete(owner);
    }
  }
}

/** Read-only transactions abandoned by withDeadline since the start (a counter in /metrics: each one is a driver hang). */
export const snapshotDeadlines = { count: 0 };

/**
 * A read-only transaction on `sql` that has not settled by the pool's deadline (twice the statement timeout plus
 * the connect timeout) fails with code SNAPSHOT_DEADLINE (UNAVAILABLE to the client). postgres.js 3.4.9 can leave
 * a transaction's promise pending forever when the server kills its connection mid-transaction under load
 * (test/backend-kill.test.ts found two causes, both now patched); a read-only one can be abandoned safely, a write could not.
 */
export async function withDeadline<T>(sql: Sql, work: Promise<T>): Promise<T> {
  const deadlineMs = gates.get(sql)?.deadlineMs;
  if (!deadlineMs) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      snapshotDeadlines.count++;
      reject(Object.assign(new Error(`a read-only transaction did not settle within ${deadlineMs} ms`), { code: 'SNAPSHOT_DEADLINE' }));
    }, deadlineMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
