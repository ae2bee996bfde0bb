// The snapshot: every query operation runs inside one REPEATABLE READ READ
// ONLY transaction, and the request's DataLoaders are bound to it, so every
// signal in the answer comes from the same instant. Mutations are left alone
// (each opens its own read-write transaction); subscriptions never reach onExecute.
import { getOperationAST, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { admitted, withDeadline, type Sql, type Tx } from '../db/client.js';
import type { Context, Deferred, SnapshotTiming } from '../context.js';
import { DomainError } from '../errors.js';
import { createLoaders, createOneStatementLoaders, type Loaders, type OutsideReaders, type Reader } from './loaders.js';
import { TOKEN_PATTERN, tokenLsn, type ReplicaRouter } from './replicas.js';
import type { SnapshotTracing } from '../tracing.js';
import { OPEN } from '../auth/keys.js';
import { argumentValue, rootFields } from '../plugins/root-fields.js';

export const CONSISTENCY_HEADER = 'x-consistency-token';

/**
 * Read-your-writes: the newest consistency token a query carries (the
 * x-consistency-token header, and decisionContext's `after:` argument wherever
 * the field sits: in fragments too, from a variable or its default), as a WAL
 * position; -1n without one. A malformed token is BAD_USER_INPUT.
 */
function tokenOf(document: DocumentNode, op: OperationDefinitionNode, variables: Record<string, unknown> | null | undefined, request: Request | undefined): bigint {
  const tokens: unknown[] = [request?.headers.get(CONSISTENCY_HEADER) ?? undefined];
  for (const field of rootFields(document, op)) {
    if (field.name.value === 'decisionContext') tokens.push(argumentValue(op, field, 'after', variables));
  }
  let newest = -1n;
  for (const t of tokens) {
    if (t === undefined || t === null || t === '') continue;
    if (typeof t !== 'string' || !TOKEN_PATTERN.test(t)) {
      throw new DomainError('BAD_USER_INPUT', 'consistency token: not a token this gateway issued (pass the value of extensions.consistencyToken or the x-consistency-token response header)', { field: 'after' });
    }
    const lsn = tokenLsn(t);
    if (lsn > newest) newest = lsn;
  }
  return newest;
}

/**
 * True when every root field is a meta field (`__typename`, `__schema`, `__type`,
 * also through fragments): no resolver reads the database, so no transaction is opened.
 */
export const readsNothing = (document: DocumentNode, op: OperationDefinitionNode): boolean =>
  rootFields(document, op).every((f) => f.name.value.startsWith('__'));

/** Snapshot transactions holding a pooled connection right now (a pool-use gauge). */
export const snapshotsInFlight = { count: 0 };

let pipeline = true;
let oneStatementFirst = true;
/** BENCH ONLY (bench/cpu-ab.ts): the same process with and without the pipelined BEGIN/COMMIT. */
export function setSnapshotPipeline(on: boolean): void { pipeline = on; }
/** BENCH ONLY (bench/cpu-ab.ts): with and without the one-statement attempt (read per operation). */
export function setOneStatementFirst(on: boolean): void { oneStatementFirst = on; }

/** Times the read phase of a snapshot (Server-Timing, the snapshot-wait metric). */
async function timed<R>(timing: SnapshotTiming | undefined, read: () => Promise<R>): Promise<R> {
  if (timing) timing.begunAt = performance.now();
  const result = await read();
  if (timing) timing.readAt = performance.now();
  return result;
}

/** Snapshot work admitted to the pool's gate (in the caller's turn) and counted in flight. */
async function admittedSnapshot<T>(sql: Sql, work: () => Promise<T>, owner: string | null): Promise<T> {
  snapshotsInFlight.count++;
  try {
    return await admitted(sql, work, owner);
  } finally {
    snapshotsInFlight.count--;
  }
}

/** A one-statement attempt (createOneStatementLoaders): admitted and counted like a snapshot transaction. */
const inOneStatement = <T>(sql: Sql, fn: () => Promise<T>, timing: SnapshotTiming, owner: string | null): Promise<T> =>
  admittedSnapshot(sql, () => timed(timing, fn), owner);

// sql.begin rather than a reserved connection: postgres.js 3.4.9 cannot recover a
// reserved connection whose server went away (calls on it hang); sql.begin it does.
// `pipeline` (patches/postgres+3.4.9.patch): the reads go out right behind BEGIN, and
// the answer does not wait for COMMIT (read only: COMMIT cannot change what was read),
// so a decision costs one round trip.
export const inSnapshot = <T>(sql: Sql, fn: (tx: Tx) => Promise<T>, timing?: SnapshotTiming, owner: string | null = null): Promise<T> =>
  admittedSnapshot(sql, async () => (await withDeadline(sql,
    sql.begin('isolation level repeatable read read only', (tx) => timed(timing, () => fn(tx)), { pipeline }))) as T, owner);

/** Whose turn a snapshot takes at the pool: the caller's API key (null with auth off: one queue, no per-key share). */
const ownerOf = (c: Context): string | null => (c.principal && c.principal.id !== OPEN.id ? c.principal.id : null);

/** The request's loaders, bound to its snapshot; only a query operation has them. */
export function loadersOf(ctx: Context): Loaders {
  if (!ctx.loaders) throw new DomainError('INTERNAL_SERVER_ERROR', 'read outside a snapshot transaction');
  return ctx.loaders;
}

/**
 * Executes the operation on `tx` with the loaders bound to it, then the work
 * resolvers deferred to the end of the snapshot (ctx.deferred): `inside` before
 * COMMIT (a failure there is swallowed: it never fails the answer).
 */
async function executeIn<T>(ctx: Context, loaders: Loaders, run: () => Promise<T>): Promise<T> {
  ctx.loaders = loaders;
  ctx.deferred = undefined; // a retried attempt (replicas) starts over
  const result = await run();
  const deferred = ctx.deferred as Deferred[] | undefined; // set by resolvers during run()
  if (deferred) await Promise.all(deferred.map((d) => d.inside().catch(() => {})));
  return result;
}

/** After COMMIT: the deferred `after` steps (never throw into the answer). */
function afterCommit<T>(ctx: Context, result: T): T {
  // Every root field that reads is non-null: an error one of them could not absorb made the whole answer
  // `data: null`, and then no decision was served — none may be logged (nor its id cited later).
  if ((result as { data?: unknown } | null)?.data == null) return result;
  for (const d of ctx.deferred ?? []) {
    try { d.after(); } catch { /* logging never fails a decision */ }
  }
  return result;
}

export interface SnapshotOptions {
  /**
   * TEST ONLY, never set it in production. Moves readers onto the pool, where
   * each of their statements reads its own snapshot: `true` all of them (no
   * transaction at all), a list just those (the rest share the transaction).
   * Exists to prove the consistency test fails when any single reader leaves
   * the snapshot. Unset, `false` or `[]`: the production path.
   */
  unsafeReadOutsideTransaction?: boolean | ReadonlyArray<Reader>;
  /** READ_REPLICA_URLS: run each snapshot on a hot standby within the lag budget (reads/replicas.ts). Unset: the primary, as before. */
  replicas?: ReplicaRouter;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: a span for each snapshot and each statement in it (tracing.ts). Unset: no wrapper at all. */
  tracing?: SnapshotTracing;
}

export function useSnapshotTransaction(sql: Sql, opts: SnapshotOptions = {}): Plugin<Context> {
  // Resolved once here, so a request pays nothing for the test switch when it is unset.
  const unsafe = opts.unsafeReadOutsideTransaction;
  const allOutside = unsafe === true;
  const outside: OutsideReaders | undefined = Array.isArray(unsafe) && unsafe.length ? { sql, names: unsafe } : undefined;
  const replicas = opts.replicas;
  const tracing = opts.tracing;
  const snapshotOf = <T>(db: Sql, c: Context, fn: (tx: Tx) => Promise<T>): Promise<T> => (tracing
    ? tracing.snapshot(c, (traced) => inSnapshot(db, (tx) => fn(traced(tx)), c.timing, ownerOf(c)))
    : inSnapshot(db, fn, c.timing, ownerOf(c)));
  const tokensOf = new WeakMap<Request, string>();
  const newerToken = (a: string | undefined, b: string) => (a && tokenLsn(a) > tokenLsn(b) ? a : b);
  return {
    // The header too (x-consistency-token; the newest of a batch's mutations), for clients that keep headers, not bodies.
    onResponse({ request, response }) {
      const token = replicas ? tokensOf.get(request) : undefined;
      if (token) response.headers.set(CONSISTENCY_HEADER, token);
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      const op = getOperationAST(args.document, args.operationName);
      // With replicas, every mutation's answer carries the token that makes a later decision see it.
      if (replicas && op?.operation === 'mutation') {
        setExecuteFn(async (execArgs) => {
          const result = await executeFn(execArgs);
          if (!result || typeof result !== 'object' || Symbol.asyncIterator in result) return result;
          const token = await replicas.primaryToken().catch(() => undefined);
          if (!token) return result;
          const request = (execArgs.contextValue as { request?: Request }).request;
          if (request) tokensOf.set(request, newerToken(tokensOf.get(request), token));
          return { ...result, extensions: { ...result.extensions, consistencyToken: token } };
        });
        return;
      }
      if (op?.operation !== 'query' || readsNothing(args.document, op)) return;
      const ctx = args.contextValue as Context;
      if (allOutside) {
        setExecuteFn(async (execArgs) => {
          const c = execArgs.contextValue as Context;
          return afterCommit(c, await executeIn(c, createLoaders(sql), async () => executeFn(execArgs)));
        });
        return;
      }
      if (replicas) {
        setExecuteFn((execArgs) => {
          let minLsn: bigint;
          try {
            minLsn = tokenOf(args.document, op, execArgs.variableValues, (ctx as { request?: Request }).request);
          } catch (err) {
            return { errors: [err as DomainError] } as ReturnType<typeof executeFn>;
          }
          const c = execArgs.contextValue as Context;
          c.timing = { executeAt: performance.now() };
          return replicas.run((db, route) => {
            c.route = route;
            return snapshotOf(db, c, (tx) => executeIn(c, createLoaders(tx, outside), async () => {
              // On a replica, the first statement: it fixes the snapshot's lag bound at the instant the snapshot is
              // taken (over the budget, replicas.run answers from elsewhere). Pipelined: no round trip of its own.
              if (route.pin) { route.pin(tx); c.loaders!.statements++; }
              return executeFn(execArgs);
            }));
          }, minLsn).then((r) => afterCommit(c, r)) as ReturnType<typeof executeFn>;
        });
        return;
      }
      // One statement first (no tracing, no test switch): a decision's reads all leave in one tick, and one
      // statement reads one snapshot without BEGIN or COMMIT. An operation that reads across ticks runs again
      // in a transaction (its first attempt sent at most that one statement, and answers nothing).
      const oneStatement = !tracing && !outside && oneStatementFirst;
      setExecuteFn(async (execArgs) => {
        const c = execArgs.contextValue as Context;
        c.timing = { executeAt: performance.now() };
        if (oneStatement) {
          const loaders = createOneStatementLoaders(sql);
          const result = await inOneStatement(sql, () => executeIn(c, loaders, async () => executeFn(execArgs)), c.timing, ownerOf(c));
          if (!loaders.escalated) return afterCommit(c, result);
          c.timing = { executeAt: performance.now() };
        }
        return snapshotOf(sql, c, (tx) => executeIn(c, createLoaders(tx, outside), async () => executeFn(execArgs)))
          .then((r) => afterCommit(c, r)) as ReturnType<typeof executeFn>;
      });
    },
  };
}
