// Read replicas: each query operation's one snapshot transaction runs on one hot
// standby, chosen by load (snapshots in flight) among those whose lag is within
// MAX_REPLICA_LAG_MS, else on the primary. Lag is tracked in the background (a
// timer, never a query per decision), as an UPPER BOUND:
//
//   Every check samples the primary's pg_current_wal_lsn() at time t, then each
//   replica's pg_last_wal_replay_lsn(). A replica whose replay position has
//   reached a sample taken at t contains every commit made before t, so a
//   snapshot taken on it at time T misses at most the commits of (t, T]:
//   its staleness is ≤ T − t ("caughtUpAt" = the newest such t).
//
// When replay stops (paused, a conflict wait, a dead primary link) caughtUpAt
// stops moving and the bound grows with the clock, so routing leaves the replica
// the moment the bound passes the budget — no check needs to run for that.
//
// The bound is fixed when the snapshot is TAKEN, not when it was routed: a
// snapshot waits for a pool connection and for the CPU after routing, and on a
// saturated box that wait can outlast any margin. So the transaction's first
// statement is a pin (ReplicaRoute.pin): caughtUpAt is read just before it is
// sent, the snapshot exists by the time its result is back, and the difference
// is the snapshot's lagMs. Over the budget, the operation's answer is dropped and
// it runs again on another replica or the primary (a stale re-route).
// A replica that is down, or cancels a read (recovery conflict, 40001), costs one
// retry on another replica or the primary, never a failed decision.
import postgres from 'postgres';
import type { Config } from '../config.js';
import { createSql, type Sql, type Tx } from '../db/client.js';
import { isUnavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactSecrets } from '../logger.js';
import { sleep } from '../util.js';

export type SnapshotSource = 'PRIMARY' | 'REPLICA';

/** Where a query's snapshot is read. */
export interface Route {
  source: SnapshotSource;
  /**
   * On a replica: starts the snapshot's first statement on its transaction, which fixes the snapshot and its
   * lag bound (call it before any other statement). Absent on the primary.
   */
  pin?: (tx: Tx) => void;
  /** Upper bound, in ms, on how far behind the primary the snapshot is (0 on the primary; on a replica once pinned). */
  lagMs(): Promise<number>;
}

export const PRIMARY_ROUTE: Route = { source: 'PRIMARY', lagMs: () => Promise.resolve(0) };

/** Upper bound, in ms, on how far behind the primary the snapshot read on this route is. */
export const lagBoundMs = (route: Route | undefined): Promise<number> => (route ? route.lagMs() : Promise.resolve(0));

/** Process-wide figures for /metrics (plugins/metrics.ts reads them; no query per scrape). */
export const replicaStats = { retries: 0, staleReroutes: 0, routers: new Set<ReplicaRouter>() };

/** A replica snapshot whose lag bound, fixed when it was taken, is over the budget: the router runs the operation elsewhere. */
export class StaleSnapshot extends Error {
  constructor(readonly lagMs: number) { super(`replica snapshot ${lagMs} ms behind: over the lag budget`); }
}

/** A replica route: the snapshot's bound is fixed by pin(), the transaction's first statement (see the header). */
class ReplicaRoute implements Route {
  readonly source = 'REPLICA' as const;
  private pinned: Promise<number> | undefined;
  constructor(private readonly replica: Replica) {}

  pin(tx: Tx): void {
    // Read before the statement is sent: every replay position it rests on was read before this snapshot exists.
    const caughtUpAt = this.replica.caughtUpAt;
    // Pipelined ahead of the operation's own statements; `select 1` takes the REPEATABLE READ snapshot, so the
    // snapshot is taken no later than this result comes back. A failed pin is an unbounded lag (never a rejection:
    // nothing awaits it until the operation is done, and the operation's own statements fail too).
    this.pinned = tx`select 1`.then(() => Math.max(0, Math.ceil(performance.now() - caughtUpAt)), () => Number.POSITIVE_INFINITY);
  }

  /** Never pinned (no statement ran): bounded by the routing-time position, measured now. */
  lagMs(): Promise<number> {
    return this.pinned ?? Promise.resolve(Math.max(0, Math.ceil(performance.now() - this.replica.caughtUpAt)));
  }
}

export interface Replica {
  name: string;
  sql: Sql;
  /** Snapshots running on it now (the load it is picked by). */
  inFlight: number;
  /** Its last check (or read) reached it; false after a connection failure until a check succeeds. */
  up: boolean;
  caughtUpAt: number;
  replayLsn: bigint;
  /** now() − pg_last_xact_replay_timestamp() at the last check, when it was behind the primary (for logs/metrics). */
  replayAgeMs: number | undefined;
  monitor: Sql;
  /** Its lag check still unanswered, and when it was sent: a hung replica must not hold up the others' checks. */
  probe?: Promise<void>;
  probeAt?: number;
}

export interface ReplicaOptions {
  maxLagMs: number;
  /** Read-your-writes: how long a decision with a consistency token waits for a replica to replay it before using the primary. */
  tokenWaitMs?: number;
  checkMs: number;
  sqlConfig: Pick<Config, 'poolMax' | 'connectTimeoutSeconds' | 'statementTimeoutMs'> & Partial<Pick<Config, 'poolQueueMax'>>;
  logger?: Logger;
}

/** A consistency token (opaque to clients; today the primary's WAL position after the write, "0/3018AD0"). */
export const TOKEN_PATTERN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;
export const tokenLsn = (token: string): bigint => lsn(token);

const lsn = (text: string | null | undefined): bigint => {
  if (!text) return -1n;
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};

/** A read a replica could not serve and another server can: down, or a recovery conflict (40001) / deadlock. */
export function isRetryable(err: unknown): boolean {
  for (let e = err as { code?: unknown; originalError?: unknown } | undefined, i = 0; e && i < 5; e = e.originalError as typeof e, i++) {
    if (isUnavailable(e) || e.code === '40001' || e.code === '40P01') return true;
  }
  return false;
}

const failedResult = (result: unknown): unknown => {
  const errs = (result as { errors?: { originalError?: unknown }[] } | null)?.errors;
  return errs?.find((e) => isRetryable(e.originalError))?.originalError;
};

export class ReplicaRouter {
  readonly replicas: Replica[];
  /** Lag budget minus the margin between routing and the answer (see pick). */
  private readonly admitAgeMs: number;
  private samples: { lsn: bigint; at: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(private readonly primary: Sql, urls: string[], private readonly opts: ReplicaOptions) {
    this.replicas = urls.map((url) => ({
      name: redactSecrets(url),
      sql: createSql(url, opts.sqlConfig),
      // Its own connection: a check never queues behind decisions (which would make a busy replica look stale).
      monitor: postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 1, idle_timeout: 0, backoff: () => 0.2,
        connection: { statement_timeout: Math.max(opts.checkMs * 5, 500), application_name: 'decision-gateway-lag' } }),
      inFlight: 0, up: false, caughtUpAt: Number.NEGATIVE_INFINITY, replayLsn: -1n, replayAgeMs: undefined,
    }));
    // A snapshot is taken a few ms after it is routed: keeping that margin makes stale re-routes (see run) rare.
    this.admitAgeMs = opts.maxLagMs - Math.min(50, opts.maxLagMs / 5);
  }

  get maxLagMs(): number { return this.opts.maxLagMs; }

  /** First check done (replicas that answered are usable at once), then every checkMs. */
  async start(): Promise<void> {
    replicaStats.routers.add(this);
    await this.check(Math.max(this.opts.checkMs * 5, 500)); // the first: long enough for the connections to open
    this.timer = setInterval(() => { this.checking ??= this.check().finally(() => { this.checking = undefined; }); }, this.opts.checkMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    replicaStats.routers.delete(this);
    await this.checking;
    await Promise.all(this.replicas.flatMap((r) => [r.sql.end({ timeout: 5 }), r.monitor.end({ timeout: 1 })]));
  }

  /** Current lag bound of a replica, ms (Infinity when it never caught up). */
  lagOf(r: Replica): number { return performance.now() - r.caughtUpAt; }

  /** One lag check (the timer runs it every checkMs; a test may run one to sample now), waiting for answers at most `waitMs`. */
  async check(waitMs = this.opts.checkMs): Promise<void> {
    const at = performance.now();
    try {
      const [row] = await this.primary<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
      this.samples.push({ lsn: lsn(row!.lsn), at });
      // Samples older than the budget can no longer make a replica eligible.
      const keepAfter = at - this.opts.maxLagMs * 2;
      while (this.samples.length > 2 && this.samples[0]!.at < keepAfter) this.samples.shift();
    } catch (err) {
      this.opts.logger?.debug({ err }, 'replica lag check: primary unreachable');
    }
    // Each replica is probed on its own: one whose last probe is still unanswered (a frozen server, a network
    // black hole: its server-side statement_timeout never fires) is skipped, and marked down once the probe is
    // older than the stall bound; the others keep being sampled every checkMs. A check waits for its probes at
    // most checkMs; a slower answer still applies when it arrives.
    const stallMs = Math.max(this.opts.checkMs * 5, 500);
    const probes = this.replicas.map((r) => {
      if (r.probe) {
        if (r.up && at - r.probeAt! > stallMs) {
          this.opts.logger?.warn({ replica: r.name }, 'read replica not answering its lag check: decisions go elsewhere');
          r.up = false;
        }
        return r.probe;
      }
      r.probeAt = at;
      return (r.probe = this.probe(r).finally(() => { r.probe = undefined; }));
    });
    await Promise.race([Promise.all(probes), sleep(waitMs)]);
  }

  private async probe(r: Replica): Promise<void> {
    try {
      const [row] = await r.monitor<{ lsn: string | null; age: number | null }[]>`
        select pg_last_wal_replay_lsn()::text as lsn,
               (extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000)::float8 as age`;
      const replayed = lsn(row!.lsn);
      r.replayLsn = replayed;
      for (let i = this.samples.length - 1; i >= 0; i--) {
        const s = this.samples[i]!;
        if (s.lsn <= replayed) { if (s.at > r.caughtUpAt) r.caughtUpAt = s.at; break; }
      }
      const newest = this.samples.at(-1);
      r.replayAgeMs = newest && replayed < newest.lsn && row!.age !== null ? Number(row!.age) : undefined;
      if (!r.up) this.opts.logger?.info({ replica: r.name }, 'read replica reachable');
      r.up = true;
    } catch (err) {
      if (r.up) this.opts.logger?.warn({ replica: r.name, err }, 'read replica unreachable: decisions go elsewhere');
      r.up = false;
    }
  }

  /** The primary's WAL position now: a write committed before this call is at or before it (the consistency token). */
  async primaryToken(): Promise<string> {
    const [row] = await this.primary<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
    return row!.lsn;
  }

  /**
   * A replica that has replayed `minLsn` (a consistency token), waiting up to tokenWaitMs for one, or undefined:
   * the primary. Asks the replicas directly (only decisions carrying a token pay for it).
   */
  private async pickReplayed(minLsn: bigint): Promise<Replica | undefined> {
    const deadline = performance.now() + (this.opts.tokenWaitMs ?? 50);
    for (;;) {
      const known = this.pick(undefined, minLsn);
      if (known) return known;
      const within = this.pick();
      if (!within || performance.now() >= deadline) return undefined;
      // Never past the deadline: a replica that does not answer (frozen, black-holed) must not hold the decision.
      await Promise.race([sleep(Math.max(0, deadline - performance.now())), Promise.all(this.replicas.filter((r) => r.up).map(async (r) => {
        try {
          const [row] = await r.sql<{ lsn: string | null }[]>`select pg_last_wal_replay_lsn()::text as lsn`;
          const replayed = lsn(row!.lsn);
          if (replayed > r.replayLsn) r.replayLsn = replayed;
        } catch { /* the next check marks it */ }
      }))]);
      if (this.pick(undefined, minLsn)) continue;
      await sleep(5);
    }
  }

  /** The least-loaded replica within the lag budget (ties: the fresher) that has replayed minLsn, or undefined: the primary. */
  pick(exclude?: Replica, minLsn = -1n): Replica | undefined {
    const now = performance.now();
    let best: Replica | undefined;
    for (const r of this.replicas) {
      if (r === exclude || !r.up || now - r.caughtUpAt > this.admitAgeMs || r.replayLsn < minLsn) continue;
      if (!best || r.inFlight < best.inFlight || (r.inFlight === best.inFlight && r.caughtUpAt > best.caughtUpAt)) best = r;
    }
    return best;
  }

  /**
   * Runs one read (a snapshot transaction) on a replica, or on the primary when
   * none qualifies. A replica that is down or cancels the read with a retryable
   * error — thrown, or inside the GraphQL result — or whose snapshot turned out
   * staler than the budget (see ReplicaRoute) is left for another replica within
   * the budget, at most once, then the primary: never a failed decision for it.
   */
  async run<T>(read: (sql: Sql, route: Route) => Promise<T>, minLsn = -1n): Promise<T> {
    let replica = minLsn >= 0n ? await this.pickReplayed(minLsn) : this.pick();
    for (let attempt = 0; replica && attempt < 2; attempt++) {
      const r = replica;
      let failure: unknown;
      r.inFlight++;
      try {
        const route = new ReplicaRoute(r);
        const result = await read(r.sql, route);
        failure = failedResult(result);
        if (!failure) {
          // The pin came back before the transaction committed: this does not wait.
          const lag = await route.lagMs();
          if (lag <= this.opts.maxLagMs) return result;
          failure = new StaleSnapshot(lag);
        }
      } catch (err) {
        if (!isRetryable(err)) throw err;
        failure = err;
      } finally {
        r.inFlight--;
      }
      if (failure instanceof StaleSnapshot) {
        replicaStats.staleReroutes++;
      } else {
        // Down: skip it until a check reaches it again. A recovery conflict leaves it usable.
        if (isUnavailable(failure)) r.up = false;
        replicaStats.retries++;
      }
      replica = this.pick(r, minLsn);
    }
    return read(this.primary, PRIMARY_ROUTE);
  }
}
