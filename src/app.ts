// Assembles the GraphQL server: schema, the snapshot-transaction plugin, error
// masking. Shared by server.ts, the tests and the benchmarks.
import { useGraphQlJit } from '@envelop/graphql-jit';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Context } from './context.js';
import type { Sql } from './db/client.js';
import { maskError } from './errors.js';
import type { ChangeHub } from './live/hub.js';
import type { DecisionLog } from './log/decision-log.js';
import { requestIdOf, yogaLogging, type Logger } from './logger.js';
import { useInputErrorCodes, useRequestParseErrors } from './plugins/input-error-codes.js';
import type { KeyStore, Principal } from './auth/keys.js';
import { useAuth } from './plugins/auth.js';
import type { RateLimiter } from './auth/rate-limits.js';
import { useRateLimits } from './plugins/rate-limits.js';
import { UNGUARDED } from './auth/roles.js';
import { useBoard } from './plugins/board.js';
import { cachedRenderer, graphiqlOptions } from './plugins/graphiql.js';
import { limitPlugins } from './plugins/limits.js';
import { useMetrics } from './plugins/metrics.js';
import { useReadiness } from './plugins/readiness.js';
import { useErrorRequestIds } from './plugins/request-ids.js';
import { useWorkBudget, type WorkBudget } from './plugins/work-budget.js';
import { useOneWritePerOperation } from './plugins/one-write.js';
import type { TrustedDocuments } from './plugins/trusted-documents.js';
import { useSnapshotTransaction, type SnapshotOptions } from './reads/snapshot.js';
import { schema } from './schema/index.js';
import { createTracing } from './tracing.js';
import type { TracerProvider } from '@opentelemetry/api';

export interface AppOptions extends SnapshotOptions {
  /** Snapshots (query operations) and the readiness check. */
  sql: Sql;
  /** Mutations' transactions (ctx.sql); unset: they share `sql`. */
  writeSql?: Sql;
  hub?: ChangeHub;
  /** API keys; without a store every caller is allowed. */
  keys?: KeyStore;
  logger: Logger;
  production?: boolean;
  graphiql?: boolean;
  /** Schema introspection (on by default: exploring in GraphiQL is a use). */
  introspection?: boolean;
  /** Operations per batched HTTP request (0: batching off). */
  maxBatch?: number;
  /** Concurrent requests before 503 (default 256). */
  maxInFlight?: number;
  /** For the pool-size gauge. */
  poolMax?: number;
  /** Protects /metrics (Bearer token) when set. */
  metricsToken?: string;
  /** SERVER_TIMING: phase durations in a Server-Timing header (for tracing slow answers). */
  serverTiming?: boolean;
  /** Origins allowed cross-origin (CORS_ORIGINS); none by default: yoga would otherwise reflect any Origin. */
  corsOrigins?: string[];
  /** OTEL_EXPORTER_OTLP_ENDPOINT's provider (tracing.ts), or a test's; unset: no tracing plugin at all. */
  tracerProvider?: TracerProvider;
  /** RATE_LIMITS: per-key operation rates (auth/rate-limits.ts); unset: no limit, no cost. */
  rateLimiter?: RateLimiter;
  /** Candidate evaluations per request and per key in flight (defaults 2,000 and 20,000). */
  workBudget?: WorkBudget;
  /** TRUSTED_DOCUMENTS allow/only: persisted documents by hash (and text only where allowed). */
  trusted?: TrustedDocuments;
  /** The decision log's queue; without it no decision is logged. */
  decisionLog?: DecisionLog;
  /** Outcomes count within this many seconds after a decision (DECISION_ATTRIBUTION_WINDOW_S; default 1800). */
  attributionWindowS?: number;
}

const noIntrospection: Plugin = { onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) };

export type App = YogaServerInstance<Record<string, never>, Context>;

export function createApp(opts: AppOptions): App {
  const { sql, logger } = opts;
  const principals = new WeakMap<Request, Principal>();
  const tracing = opts.tracerProvider ? createTracing(opts.tracerProvider) : undefined;
  return createYoga<Record<string, never>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // Served from the installed package with example tabs (plugins/graphiql.ts); yoga's default loads a CDN.
    graphiql: opts.graphiql === false ? false : graphiqlOptions(opts.keys),
    renderGraphiQL: cachedRenderer(),
    batching: (opts.maxBatch ?? 10) > 0 ? { limit: opts.maxBatch ?? 10 } : false,
    landingPage: false,
    cors: opts.corsOrigins?.length
      ? {
        origin: opts.corsOrigins, credentials: false, maxAge: 600,
        allowedHeaders: ['content-type', 'authorization', 'x-request-id', 'x-consistency-token'],
        exposedHeaders: ['x-request-id', 'x-consistency-token'],
      }
      : false,
    // Without a key store every caller may do everything; with one, a request the auth plugin did not
    // authenticate has no principal, and every root field refuses it.
    context: ({ request, principal }: { request: Request; principal?: Principal }) =>
      ({
        sql: opts.writeSql ?? sql, hub: opts.hub, decisionLog: opts.decisionLog, attributionWindowS: opts.attributionWindowS ?? 1800,
        principal: principal ?? principals.get(request) ?? (opts.keys ? undefined : UNGUARDED),
      }),
    plugins: [
      // First: the request's span encloses everything the other plugins do.
      ...(tracing?.plugins ?? []),
      useBoard(),
      useRequestParseErrors(),
      ...(opts.introspection === false ? [noIntrospection] : []),
      ...(opts.keys ? [useAuth(opts.keys, principals)] : []),
      // Per request (each batch entry, GET, SSE): a hash becomes its pre-parsed, pre-validated document; text
      // is refused in `only` unless the key may send it. Before any other onParams work.
      ...(opts.trusted ? [opts.trusted.plugin(principals)] : []),
      // After auth: only an admitted key's operations count against it.
      ...(opts.rateLimiter ? [useRateLimits(opts.rateLimiter, principals)] : []),
      useMetrics({ hub: opts.hub, poolMax: opts.poolMax ?? 0, writeSql: opts.writeSql, token: opts.metricsToken, decisionLog: opts.decisionLog, serverTiming: opts.serverTiming }),
      ...limitPlugins({ production: opts.production ?? false, maxInFlight: opts.maxInFlight ?? 256 }),
      // Compiled queries: the per-field overhead of a 50-candidate answer is most of the gateway's CPU.
      // (Its compiled subscribe drops literal arguments; schema/subscriptions.ts reads them from the document.)
      useOneWritePerOperation(),
      useGraphQlJit(),
      useSnapshotTransaction(sql, { ...opts, tracing: tracing?.snapshot }),
      // After the snapshot plugin: its execute wrapper is then the outermost, so the budget is given back
      // even when the transaction cannot open.
      useWorkBudget(opts.workBudget ?? { perRequest: 2000, perKeyInFlight: 20_000 }),
      useInputErrorCodes(),
      useReadiness(sql, opts.hub),
      useErrorRequestIds(),
    ],
    maskedErrors: {
      maskError: maskError((err) => logger.error({ err, requestId: requestIdOf(err) }, 'unexpected error'),
        (err) => logger.warn({ err, requestId: requestIdOf(err) }, 'value refused by the database')),
      isDev: !opts.production,
    },
    logging: yogaLogging(logger),
  });
}
