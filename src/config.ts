// Every setting the gateway reads, in one place (the README's configuration table mirrors this).
import os from 'node:os';
import path from 'node:path';
import { parseRateLimits, type RateSpec } from './auth/rate-limits.js';

export const TRUSTED_MODES = ['off', 'allow', 'only'] as const;
/** TRUSTED_DOCUMENTS: off, allow (hashes and text), only (hashes; text refused). */
export type TrustedMode = (typeof TRUSTED_MODES)[number];

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPort: number;
  poolMax: number;
  poolQueueMax: number;
  /** PG_WRITE_POOL_MAX: connections of the mutations' own pool; 0 shares the snapshot pool. */
  writePoolMax: number;
  /** Write transactions that may wait for a write-pool connection; past it writes get OVERLOADED (reads are unaffected). */
  writePoolQueueMax: number;
  feedPoolMax: number;
  /** READ_REPLICA_URLS: hot standbys that serve query snapshots; empty: every read on the primary. */
  readReplicaUrls: string[];
  /** A replica whose lag bound is above this serves no snapshot until it catches up. */
  maxReplicaLagMs: number;
  /** How often each replica's lag is measured (background, never per decision). */
  replicaLagCheckMs: number;
  maxSubscriptionsPerKey: number;
  /** RATE_LIMITS: operations per API key, by role (`reader=200/s:burst400,writer=50/s`; `*` for other keys); empty: no limit. */
  rateLimits: Map<string, RateSpec>;
  /** RATE_LIMIT_REDIS_URL: keep rate-limit counters in Redis; unset: in Postgres (rate_limit_buckets). */
  rateLimitRedisUrl: string | undefined;
  /** Browser origins allowed to call the API cross-origin; empty: none (same-origin only). */
  corsOrigins: string[];
  maxRequestCandidates: number;
  maxKeyCandidatesInFlight: number;
  metricsToken: string | undefined;
  serverTiming: boolean;
  workers: number;
  maxInFlight: number;
  maxBatch: number;
  graphiql: boolean;
  introspection: boolean;
  connectTimeoutSeconds: number;
  statementTimeoutMs: number;
  liveBufferLimit: number;
  livePollMs: number;
  changeLogRetentionSeconds: number;
  changeLogPruneSeconds: number;
  production: boolean;
  logLevel: string;
  // Auth and graphql-ws bounds
  /** Auth on even with no key in api_keys (everything 401 until a key exists). */
  authRequired: boolean;
  /** TRUSTED_DOCUMENTS: off, allow (hashes and text), only (hashes; text refused). */
  trustedDocuments: TrustedMode;
  /** The persisted-query manifest (npm run documents). */
  trustedDocumentsManifest: string;
  /** In `only`, admin keys may still send text. */
  trustedDocumentsAdminText: boolean;
  /** Largest graphql-ws frame; a bigger one closes that socket with 1009. */
  wsMaxPayloadBytes: number;
  /** Operations in flight on one graphql-ws socket; past it a subscribe gets LIMIT_EXCEEDED. */
  wsMaxSubscriptions: number;
  /** Open graphql-ws sockets per API key per process; past it a new socket closes with 4429. */
  wsMaxSocketsPerKey: number;
  // The decision log (src/log/)
  /** Share of decisions logged without `log: true`, 0..1. */
  decisionLogSample: number;
  /** Days of decision log kept; older daily partitions are dropped whole. */
  decisionLogRetentionDays: number;
  /** Candidate rows the in-memory queue may hold; past it a decision is dropped from the log (counted), never delayed. */
  decisionLogQueueRows: number;
  /** The queue is written at least this often (ms)… */
  decisionLogFlushMs: number;
  /** …or as soon as it holds this many candidate rows. */
  decisionLogBatchRows: number;
  /** Events citing a decision count as its outcomes up to this long after it (decisionOutcomes, export). */
  decisionAttributionWindowS: number;
}

function int(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function tcpPort(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const n = int(name, fallback, env);
  if (n > 65535) throw new Error(`${name} must be a TCP port from 0 to 65535, got "${env[name]}"`);
  return n;
}

/** pino's levels: an unknown one would stop the start with a stack trace instead of this line. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function fraction(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${name} must be a number from 0 to 1, got "${raw}"`);
  return n;
}

function bool(name: string, fallback: boolean, env: NodeJS.ProcessEnv): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|on|yes)$/i.test(raw)) return true;
  if (/^(0|false|off|no)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T, env: NodeJS.ProcessEnv): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new Error(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: tcpPort('PORT', 4000, env),
    host: env.HOST || '0.0.0.0',
    // Set and non-empty: use that Postgres. Unset or empty: embedded PostgreSQL.
    databaseUrl: env.DATABASE_URL ? env.DATABASE_URL : undefined,
    dataDir: path.resolve(env.DATA_DIR || './.data/pg'),
    embeddedPort: tcpPort('EMBEDDED_PG_PORT', 54329, env),
    poolMax: int('PG_POOL_MAX', 10, env),
    poolQueueMax: int('PG_POOL_QUEUE_MAX', 100, env),
    writePoolMax: int('PG_WRITE_POOL_MAX', 8, env),
    writePoolQueueMax: int('PG_WRITE_POOL_QUEUE_MAX', 100, env),
    feedPoolMax: int('FEED_POOL_MAX', 2, env),
    readReplicaUrls: (env.READ_REPLICA_URLS ?? '').split(',').map((u) => u.trim()).filter(Boolean),
    maxReplicaLagMs: Math.max(1, int('MAX_REPLICA_LAG_MS', 500, env)),
    replicaLagCheckMs: Math.max(10, int('REPLICA_LAG_CHECK_MS', 100, env)),
    maxSubscriptionsPerKey: Math.max(1, int('MAX_SUBSCRIPTIONS_PER_KEY', 1000, env)),
    rateLimits: parseRateLimits(env.RATE_LIMITS ?? ''),
    rateLimitRedisUrl: env.RATE_LIMIT_REDIS_URL || undefined,
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    maxRequestCandidates: Math.max(1, int('MAX_REQUEST_CANDIDATES', 2000, env)),
    maxKeyCandidatesInFlight: Math.max(1, int('MAX_KEY_CANDIDATES_IN_FLIGHT', 20_000, env)),
    metricsToken: env.METRICS_TOKEN || undefined,
    serverTiming: bool('SERVER_TIMING', false, env),
    // One per core: measured best on the 2-core box, where Postgres shares the cores (bench:peer, README).
    workers: Math.max(1, int('WORKERS', os.availableParallelism(), env)),
    maxInFlight: Math.max(1, int('MAX_IN_FLIGHT', 256, env)),
    maxBatch: int('MAX_BATCH', 10, env),
    graphiql: bool('GRAPHIQL', true, env),
    introspection: bool('INTROSPECTION', true, env),
    connectTimeoutSeconds: int('PG_CONNECT_TIMEOUT_S', 2, env),
    statementTimeoutMs: int('PG_STATEMENT_TIMEOUT_MS', 2000, env),
    liveBufferLimit: int('LIVE_BUFFER_LIMIT', 10_000, env),
    livePollMs: int('LIVE_POLL_MS', 1000, env),
    changeLogRetentionSeconds: int('CHANGE_LOG_RETENTION_S', 24 * 3600, env),
    changeLogPruneSeconds: int('CHANGE_LOG_PRUNE_S', 60, env),
    production: env.NODE_ENV === 'production',
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info', env),
    // Auth and graphql-ws bounds
    authRequired: bool('AUTH_REQUIRED', false, env),
    trustedDocuments: oneOf('TRUSTED_DOCUMENTS', TRUSTED_MODES, 'off', env),
    trustedDocumentsManifest: path.resolve(env.TRUSTED_DOCUMENTS_MANIFEST || './trusted-documents.json'),
    trustedDocumentsAdminText: bool('TRUSTED_DOCUMENTS_ADMIN_TEXT', false, env),
    wsMaxPayloadBytes: Math.max(1, int('WS_MAX_PAYLOAD_BYTES', 1024 * 1024, env)),
    wsMaxSubscriptions: Math.max(1, int('WS_MAX_SUBSCRIPTIONS', 100, env)),
    wsMaxSocketsPerKey: Math.max(1, int('WS_MAX_SOCKETS_PER_KEY', 50, env)),
    decisionLogSample: fraction('DECISION_LOG_SAMPLE', 0.01, env),
    decisionLogRetentionDays: Math.max(1, int('DECISION_LOG_RETENTION_DAYS', 30, env)),
    decisionLogQueueRows: int('DECISION_LOG_QUEUE_ROWS', 100_000, env),
    decisionLogFlushMs: Math.max(10, int('DECISION_LOG_FLUSH_MS', 200, env)),
    decisionLogBatchRows: Math.max(1, int('DECISION_LOG_BATCH_ROWS', 10_000, env)),
    decisionAttributionWindowS: Math.max(1, int('DECISION_ATTRIBUTION_WINDOW_S', 1800, env)),
  };
}
