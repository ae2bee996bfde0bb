// Prometheus metrics at GET /metrics: request duration by operation, errors by
// code, SQL statements per decision, pool use, subscribers, change-feed health,
// and the tail's causes: event-loop delay, GC pauses, the wait for a snapshot.
// Labels come only from the schema (operation type, root field), never from
// what a client names, so no caller can create series. A scrape reads memory
// only: no database query.
import { PerformanceObserver } from 'node:perf_hooks';
import { getOperationAST, Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import client from 'prom-client';
import type { Context } from '../context.js';
import { admittedNow, snapshotDeadlines, type Sql } from '../db/client.js';
import type { ChangeHub } from '../live/hub.js';
import { rateLimitStats } from '../auth/rate-limits.js';
import type { DecisionLog } from '../log/decision-log.js';
import { replicaStats } from '../reads/replicas.js';
import { snapshotsInFlight } from '../reads/snapshot.js';

interface Op { type: string; field: string }

export interface MetricsOptions {
  hub?: ChangeHub;
  poolMax: number;
  /** The write pool (PG_WRITE_POOL_MAX), when writes have their own: its gate's count is a gauge. */
  writeSql?: Sql;
  /** When set, /metrics answers only `Authorization: Bearer <token>`. */
  token?: string;
  decisionLog?: DecisionLog;
  /** SERVER_TIMING: a Server-Timing header on each HTTP answer (queue, wait, read, gc, total in ms). */
  serverTiming?: boolean;
}

// Process-wide (every app in the process shares them; tests create many apps): one timer, one GC observer.
const LOOP_SAMPLE_MS = 20;
let loopDelay: client.Histogram | undefined;
/** Event-loop delay: how late a 20 ms timer fires, sampled continuously (a request arriving waits about as long). */
function loopDelayHistogram(): client.Histogram {
  if (loopDelay) return loopDelay;
  const h = new client.Histogram({
    name: 'gateway_event_loop_delay_seconds', help: 'How late a timer due every 20 ms fires: time a request arriving then waits for the event loop',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 1], registers: [],
  });
  const tick = (due: number) => {
    setTimeout(() => {
      const now = performance.now();
      h.observe(Math.max(0, now - due) / 1000);
      tick(now + LOOP_SAMPLE_MS);
    }, LOOP_SAMPLE_MS).unref();
  };
  tick(performance.now() + LOOP_SAMPLE_MS);
  loopDelay = h;
  return h;
}

/** Milliseconds of GC pause in this process so far (Server-Timing takes the difference over a request). */
const gcPaused = { ms: 0, observing: false };
function observeGc(): void {
  if (gcPaused.observing) return;
  gcPaused.observing = true;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) gcPaused.ms += e.duration; }).observe({ entryTypes: ['gc'] });
}

/** The root field the operation selects (schema names only), or "multiple" / "none". */
function rootField(op: OperationDefinitionNode): string {
  const names = new Set<string>();
  for (const s of op.selectionSet.selections) names.add(s.kind === Kind.FIELD ? s.name.value : 'fragment');
  if (names.size === 0) return 'none';
  if (names.size > 1) return 'multiple';
  const [name] = names;
  return name!.startsWith('__') ? 'introspection' : name!;
}

function describe(document: DocumentNode, operationName: string | null | undefined): Op {
  const op = getOperationAST(document, operationName);
  return op ? { type: op.operation, field: rootField(op) } : { type: 'invalid', field: 'none' };
}

export function useMetrics({ hub, poolMax, writeSql, token, decisionLog, serverTiming = false }: MetricsOptions): Plugin {
  const registry = new client.Registry();
  // With WORKERS > 1 each process answers for itself; the pid tells the series apart.
  registry.setDefaultLabels({ pid: String(process.pid) });
  // GC buckets fine enough for a 30 ms budget (prom-client's default starts at 1 ms, then 10 ms).
  client.collectDefaultMetrics({ register: registry, gcDurationBuckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5] });
  registry.registerMetric(loopDelayHistogram());
  if (serverTiming) observeGc();
  const snapshotWait = new client.Histogram({
    name: 'gateway_snapshot_wait_seconds', help: 'Query operation start to its snapshot transaction begun: pool wait plus BEGIN',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [registry],
  });

  const duration = new client.Histogram({
    name: 'gateway_request_duration_seconds', help: 'GraphQL operation duration, request (or graphql-ws message) to result',
    labelNames: ['operation_type', 'root_field'] as const, registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  const errors = new client.Counter({
    name: 'gateway_errors_total', help: 'GraphQL errors returned, by extensions.code',
    labelNames: ['code'] as const, registers: [registry],
  });
  const statements = new client.Histogram({
    name: 'gateway_sql_statements_per_decision', help: 'SQL statements per query operation, BEGIN and COMMIT included (1 for a decision read as one statement)',
    buckets: [3, 4, 5, 6, 7, 8, 10, 15], registers: [registry],
  });
  new client.Gauge({
    name: 'gateway_pool_snapshot_connections', help: 'Pool connections held by snapshot transactions now',
    registers: [registry], collect() { this.set(snapshotsInFlight.count); },
  });
  if (writeSql) {
    new client.Gauge({
      name: 'gateway_write_transactions', help: 'Write transactions admitted to the write pool now, in progress or waiting for a connection',
      registers: [registry], collect() { this.set(admittedNow(writeSql)); },
    });
  }
  new client.Counter({
    name: 'gateway_snapshot_deadlines_total',
    help: 'Read-only transactions answered UNAVAILABLE because they had not settled by twice the statement timeout plus the connect timeout (a driver hang; expected 0)',
    registers: [registry], collect() { this.reset(); this.inc(snapshotDeadlines.count); },
  });
  new client.Counter({
    name: 'gateway_replica_retries_total',
    help: 'Query snapshots retried elsewhere because their read replica was down or cancelled the read (recovery conflict)',
    registers: [registry], collect() { this.reset(); this.inc(replicaStats.retries); },
  });
  new client.Counter({
    name: 'gateway_replica_stale_reroutes_total',
    help: 'Query snapshots taken on a read replica whose lag bound had passed MAX_REPLICA_LAG_MS by then, answered again elsewhere',
    registers: [registry], collect() { this.reset(); this.inc(replicaStats.staleReroutes); },
  });
  new client.Gauge({
    name: 'gateway_replica_lag_bound_ms', help: 'Upper bound on each read replica\'s lag behind the primary (READ_REPLICA_URLS order)',
    labelNames: ['replica'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const router of replicaStats.routers) {
        router.replicas.forEach((r, i) => this.set({ replica: String(i) }, Math.min(router.lagOf(r), 3_600_000)));
      }
    },
  });
  new client.Counter({
    name: 'gateway_rate_limited_total', help: 'Operations refused with RATE_LIMITED (a key over its rate limit)',
    registers: [registry], collect() { this.reset(); this.inc(rateLimitStats.limited); },
  });
  new client.Counter({
    name: 'gateway_rate_limit_store_errors_total',
    help: 'Rate-limit decisions the shared store (Postgres or Redis) could not make; this process counted them alone instead',
    registers: [registry], collect() { this.reset(); this.inc(rateLimitStats.storeErrors); },
  });
  new client.Gauge({ name: 'gateway_pool_max', help: 'Pool size (PG_POOL_MAX)', registers: [registry], collect() { this.set(poolMax); } });
  new client.Gauge({
    name: 'gateway_subscribers', help: 'Open subscriptions in this process',
    registers: [registry], collect() { this.set(hub?.subscriberCount ?? 0); },
  });
  new client.Gauge({
    name: 'gateway_change_log_dispatched_seq', help: 'Newest change-log entry this process has dispatched to subscribers',
    registers: [registry], collect() { this.set(hub?.dispatchedThrough ?? 0); },
  });
  new client.Gauge({
    name: 'gateway_change_log_read_age_seconds',
    help: 'Seconds since this process last read the change log to its end (grows when the feed is stuck)',
    registers: [registry], collect() { this.set(hub ? (Date.now() - hub.caughtUpAt) / 1000 : 0); },
  });

  // The decision log (log/decision-log.ts): drops are decisions left out of the log, never failed decisions.
  const logStats = decisionLog?.stats;
  new client.Counter({
    name: 'gateway_decision_log_dropped_total',
    help: 'Decisions picked for the log but left out: queue_full (DECISION_LOG_QUEUE_ROWS reached) or write_failed (a batch the database refused)',
    labelNames: ['reason'] as const, registers: [registry],
    collect() {
      this.reset();
      this.inc({ reason: 'queue_full' }, logStats?.droppedQueueFull ?? 0);
      this.inc({ reason: 'write_failed' }, logStats?.droppedWriteFailed ?? 0);
    },
  });
  new client.Counter({
    name: 'gateway_decision_log_written_total', help: 'Logged decisions written to decision_log',
    registers: [registry], collect() { this.reset(); this.inc(logStats?.writtenDecisions ?? 0); },
  });
  new client.Counter({
    name: 'gateway_decision_log_rows_written_total', help: 'Candidate rows (decision × candidate) written to decision_log',
    registers: [registry], collect() { this.reset(); this.inc(logStats?.writtenRows ?? 0); },
  });
  new client.Gauge({
    name: 'gateway_decision_log_queue_rows', help: 'Candidate rows waiting in the decision log queue',
    registers: [registry], collect() { this.set(logStats?.queuedRows ?? 0); },
  });

  const countErrors = (result: unknown) => {
    for (const r of Array.isArray(result) ? result : [result]) {
      if (r && typeof r === 'object' && 'errors' in r) {
        for (const e of (r as { errors?: { extensions?: { code?: unknown } }[] }).errors ?? []) {
          errors.inc({ code: String(e.extensions?.code ?? 'NONE') });
        }
      }
    }
  };

  const started = new WeakMap<Request, number>();
  const gcAtStart = new WeakMap<Request, number>();
  const contexts = new WeakMap<Request, Context>();
  const operations = new WeakMap<Request, Op>();
  const ms = (x: number) => x.toFixed(2);
  return {
    // queue: arrival to execution (HTTP, parse, validate, auth, event loop); wait: pool and BEGIN; read: the reads and the result.
    onResponse({ request, response }) {
      if (!serverTiming) return;
      const t0 = started.get(request);
      if (t0 === undefined) return;
      const now = performance.now();
      const parts = [`total;dur=${ms(now - t0)}`, `gc;dur=${ms(gcPaused.ms - (gcAtStart.get(request) ?? gcPaused.ms))}`];
      const t = contexts.get(request)?.timing;
      if (t) {
        parts.push(`queue;dur=${ms(t.executeAt - t0)}`);
        if (t.begunAt !== undefined) parts.push(`wait;dur=${ms(t.begunAt - t.executeAt)}`);
        if (t.begunAt !== undefined && t.readAt !== undefined) parts.push(`read;dur=${ms(t.readAt - t.begunAt)}`);
      }
      response.headers.set('server-timing', parts.join(', '));
    },
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname === '/metrics') {
        if (token && request.headers.get('authorization') !== `Bearer ${token}`) {
          endResponse(new fetchAPI.Response('metrics need Authorization: Bearer <METRICS_TOKEN>\n', {
            status: 401, headers: { 'www-authenticate': 'Bearer' },
          }));
          return;
        }
        return registry.metrics().then((text) =>
          endResponse(new fetchAPI.Response(text, { headers: { 'content-type': registry.contentType } })));
      }
      started.set(request, performance.now());
      if (serverTiming) gcAtStart.set(request, gcPaused.ms);
    },
    onExecute({ args }) {
      const ctx = args.contextValue as unknown as Context & { request?: Request };
      const op = describe(args.document, args.operationName);
      const t0 = performance.now();
      // HTTP requests are timed from arrival (onResultProcess); graphql-ws operations here.
      if (ctx.request) {
        operations.set(ctx.request, op);
        if (serverTiming) contexts.set(ctx.request, ctx);
      }
      return {
        onExecuteDone: ({ result }) => {
          if (op.type === 'query' && ctx.loaders) statements.observe(ctx.loaders.statements + ctx.loaders.transactionStatements);
          if (ctx.timing?.begunAt !== undefined) snapshotWait.observe((ctx.timing.begunAt - ctx.timing.executeAt) / 1000);
          if (!ctx.request) {
            duration.observe({ operation_type: op.type, root_field: op.field }, (performance.now() - t0) / 1000);
            countErrors(result);
          }
        },
      };
    },
    // An SSE subscription is timed from the request to its stream's start.
    onSubscribe({ args }) {
      const request = (args.contextValue as unknown as { request?: Request }).request;
      if (request) operations.set(request, describe(args.document, args.operationName));
    },
    onResultProcess({ request, result }) {
      const t0 = started.get(request);
      const op = operations.get(request) ?? { type: 'invalid', field: 'none' };
      if (t0 !== undefined) duration.observe({ operation_type: op.type, root_field: op.field }, (performance.now() - t0) / 1000);
      countErrors(result);
    },
  };
}
