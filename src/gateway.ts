// The running gateway: HTTP (queries, mutations, SSE) and graphql-ws on one
// server, the change-log follower, and an orderly shutdown.
import { createServer, type Server } from 'node:http';
import type { WebSocketServer } from 'ws';
import type { TracerProvider } from '@opentelemetry/api';
import { createApp, type App } from './app.js';
import type { Config } from './config.js';
import type { Sql } from './db/client.js';
import { KeyStore } from './auth/keys.js';
import { RateLimiter } from './auth/rate-limits.js';
import { ChangeHub } from './live/hub.js';
import { startRetention } from './live/retention.js';
import { DecisionLog } from './log/decision-log.js';
import { startDecisionLogRetention } from './log/retention.js';
import { attachWebSocket } from './live/ws.js';
import { withRequestId, type Logger } from './logger.js';
import type { SnapshotOptions } from './reads/snapshot.js';
import { sleep } from './util.js';
import { StartupError } from './db/database.js';
import { loadManifest, TrustedDocuments } from './plugins/trusted-documents.js';
import { schema } from './schema/index.js';

const SHUTDOWN_GRACE_MS = 10_000;

export interface Gateway { app: App; hub: ChangeHub; keys: KeyStore; decisionLog: DecisionLog; server: Server; wss: WebSocketServer; port: number; close(): Promise<void> }

export type GatewayConfig = Pick<Config, 'port' | 'host' | 'liveBufferLimit' | 'livePollMs' | 'maxInFlight' | 'poolMax'
  | 'graphiql' | 'introspection' | 'maxBatch'
  | 'changeLogRetentionSeconds' | 'changeLogPruneSeconds' | 'production'
  | 'authRequired' | 'wsMaxPayloadBytes' | 'wsMaxSubscriptions' | 'wsMaxSocketsPerKey'>
  & Partial<Pick<Config, 'metricsToken' | 'serverTiming' | 'maxRequestCandidates' | 'maxKeyCandidatesInFlight' | 'maxSubscriptionsPerKey' | 'corsOrigins'
    | 'rateLimits' | 'rateLimitRedisUrl' | 'trustedDocuments' | 'trustedDocumentsManifest' | 'trustedDocumentsAdminText'
    | 'decisionLogSample' | 'decisionLogRetentionDays' | 'decisionLogQueueRows' | 'decisionLogFlushMs' | 'decisionLogBatchRows'
    | 'decisionAttributionWindowS'>>;

export interface GatewayOptions extends SnapshotOptions {
  /** Tracing on (tracing.ts startTracing, or a test's provider). */
  tracerProvider?: TracerProvider;
  /** The change feed's own pool (log follower, replays); without it the feed shares `sql`. */
  feedSql?: Sql;
  /**
   * The writes' own pool (mutations, the decision log, retention): writers queue on the change-log lock holding
   * connections, and here they hold none a snapshot could use. Without it writes share `sql`.
   */
  writeSql?: Sql;
}

export async function startGateway(sql: Sql, config: GatewayConfig, logger: Logger, { feedSql, writeSql, ...opts }: GatewayOptions = {}): Promise<Gateway> {
  const writes = writeSql ?? sql;
  const trusted = trustedDocuments(config, logger); // first: a bad manifest fails the start before anything runs
  const hub = new ChangeHub({
    sql: feedSql ?? sql, logger, bufferLimit: config.liveBufferLimit, pollMs: config.livePollMs, maxPerKey: config.maxSubscriptionsPerKey,
  });
  await hub.start();
  // Keys and rate limits stay on the snapshot pool: every request waits for them, so they must not queue behind writers
  // (a key reload is one read; a rate-limit count is one short upsert that takes no change-log lock).
  const keys = new KeyStore(sql, logger, { required: config.authRequired });
  await keys.start();
  const rateLimiter = config.rateLimits && RateLimiter.configured(config.rateLimits)
    ? new RateLimiter({ sql, limits: config.rateLimits, redisUrl: config.rateLimitRedisUrl, logger, overrideOf: (id) => keys.rateLimitOf(id) })
    : undefined;
  await rateLimiter?.start();
  const stopRetention = startRetention(writes, config.changeLogPruneSeconds, config.changeLogRetentionSeconds, logger);
  // Unset here (tests' gateways): nothing sampled, log: true still logs.
  // The log's batch inserts are writes no answer waits for: on the write pool they take no snapshot's connection.
  const decisionLog = new DecisionLog({
    sql: writes, logger, sample: config.decisionLogSample ?? 0, queueRows: config.decisionLogQueueRows ?? 100_000,
    flushMs: config.decisionLogFlushMs ?? 200, batchRows: config.decisionLogBatchRows ?? 10_000,
  });
  decisionLog.start();
  const stopLogRetention = startDecisionLogRetention(writes, config.decisionLogRetentionDays ?? 30, logger, () => decisionLog.forgetPartitions());
  const app = createApp({
    sql, writeSql, hub, keys, logger, production: config.production, maxInFlight: config.maxInFlight, poolMax: config.poolMax,
    metricsToken: config.metricsToken, serverTiming: config.serverTiming, decisionLog, attributionWindowS: config.decisionAttributionWindowS,
    corsOrigins: config.corsOrigins,
    rateLimiter,
    ...(config.maxRequestCandidates ? { workBudget: { perRequest: config.maxRequestCandidates, perKeyInFlight: config.maxKeyCandidatesInFlight ?? 20_000 } } : {}),
    graphiql: config.graphiql, introspection: config.introspection, maxBatch: config.maxBatch, trusted, ...opts,
  });
  const server = createServer(withRequestId(logger, app));
  // A port taken (EADDRINUSE) fails the start, and what was started stops; the WebSocket server is
  // attached only once listening, so it never reports the listen error as its own.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
  }).catch(async (err: unknown) => {
    stopRetention();
    stopLogRetention();
    await decisionLog.stop();
    await Promise.all([hub.stop(), keys.stop(), rateLimiter?.stop()]);
    throw err;
  });
  const wss = attachWebSocket(server, app, {
    keys, logger, trusted, rateLimiter, maxPayloadBytes: config.wsMaxPayloadBytes,
    maxSubscriptions: config.wsMaxSubscriptions, maxSocketsPerKey: config.wsMaxSocketsPerKey,
  });
  const port = (server.address() as { port: number }).port;

  return {
    app, hub, keys, decisionLog, server, wss, port,
    // Stop accepting, end subscriptions with a resumable cursor, finish in-flight requests.
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      stopRetention();
      await hub.stop();
      await keys.stop();
      // Give open subscriptions a moment to deliver their final UNAVAILABLE (with the cursor to resume from).
      for (let waited = 0; hub.subscriberCount > 0 && waited < 2000; waited += 20) await sleep(20);
      for (const ws of wss.clients) ws.close(1001, 'gateway shutting down');
      wss.close();
      server.closeIdleConnections();
      // In-flight requests get a grace period; then whatever is still open (a stuck client, a
      // stream nothing will end) is cut, so shutdown always finishes.
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await rateLimiter?.stop();
      // Answers are out: what they queued for the log is written before the pool closes.
      stopLogRetention();
      await decisionLog.stop();
    },
  };
}

/** TRUSTED_DOCUMENTS allow/only: the manifest, read and validated now; off: none. */
function trustedDocuments(config: GatewayConfig, logger: Logger): TrustedDocuments | undefined {
  const mode = config.trustedDocuments ?? 'off';
  if (mode === 'off') return undefined;
  const file = config.trustedDocumentsManifest ?? 'trusted-documents.json';
  let documents;
  try {
    documents = loadManifest(file, schema, { introspection: config.introspection });
  } catch (err) {
    throw new StartupError((err as Error).message, 'TRUSTED_DOCUMENTS_MANIFEST');
  }
  logger.info({ mode, documents: documents.size, file, adminText: config.trustedDocumentsAdminText ?? false }, 'trusted documents on');
  return new TrustedDocuments({ mode, documents, adminText: config.trustedDocumentsAdminText ?? false });
}
