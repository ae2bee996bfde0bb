// `npm start`: open the database (embedded unless DATABASE_URL), migrate, seed
// a fresh embedded database with demo data, serve /graphql, drain on SIGINT/SIGTERM.
// With WORKERS > 1 the primary owns the database and forks that many gateway
// processes sharing the port (node:cluster), so GraphQL work uses every core.
// A start that fails exits 1 within seconds with one line naming the setting to
// change, after stopping the embedded PostgreSQL it started.
import cluster from 'node:cluster';
import net from 'node:net';
import postgres from 'postgres';
import { loadConfig, type Config } from './config.js';
import { createSql } from './db/client.js';
import { openDatabase, StartupError, type Database } from './db/database.js';
import { startGateway } from './gateway.js';
import { createLogger, redactSecrets } from './logger.js';
import { ReplicaRouter } from './reads/replicas.js';
import { startTracing } from './tracing.js';
import { seedDemo } from './writes/seed.js';

const START_TIMEOUT_MS = 20_000;

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`gateway failed to start: ${redactSecrets(err instanceof Error ? err.message : String(err))}`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);

/** What this process has started so far, for a failed start or a signal during it. */
let db: Database | undefined;
let stopServing: ((signal: string) => Promise<void>) | undefined;

/** One gateway process: pools, change hub, HTTP and WebSocket. Resolves to its shutdown. */
async function serve(url: string): Promise<{ port: number; stop(): Promise<void> }> {
  const sql = createSql(url, config);
  // FEED_POOL_MAX > 0: the change feed (follower, replays) reads through a pool of its own; 0 shares `sql`.
  const feedSql = config.feedPoolMax > 0 ? createSql(url, { ...config, poolMax: config.feedPoolMax }) : undefined;
  // PG_WRITE_POOL_MAX > 0: mutations (and the decision log) write through a pool and admission gate of their own, so
  // writers queued on the change-log lock never hold a connection a snapshot waits for; 0 shares `sql`.
  const writeSql = config.writePoolMax > 0
    ? createSql(url, { ...config, poolMax: config.writePoolMax, poolQueueMax: config.writePoolQueueMax, pool: 'write pool' })
    : undefined;
  // READ_REPLICA_URLS: query snapshots on hot standbys within MAX_REPLICA_LAG_MS; writes, the feed and keys stay here.
  const replicas = config.readReplicaUrls.length
    ? new ReplicaRouter(sql, config.readReplicaUrls, {
      maxLagMs: config.maxReplicaLagMs, checkMs: config.replicaLagCheckMs, sqlConfig: config, logger,
    })
    : undefined;
  const end = (timeout: number) => Promise.all([sql.end({ timeout }), feedSql?.end({ timeout }), writeSql?.end({ timeout }), replicas?.stop()]);
  try {
    await replicas?.start();
    if (replicas) logger.info({ replicas: replicas.replicas.map((r) => ({ url: r.name, up: r.up })), maxLagMs: config.maxReplicaLagMs }, 'read replicas on');
    // OTEL_EXPORTER_OTLP_ENDPOINT set: spans exported over OTLP; unset: no tracing code runs.
    const tracerProvider = startTracing();
    if (tracerProvider) logger.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'tracing on: exporting spans over OTLP');
    const gateway = await startGateway(sql, config, logger, { feedSql, writeSql, replicas, tracerProvider });
    return {
      port: gateway.port,
      async stop() {
        await gateway.close();
        await tracerProvider?.shutdown().catch((err: unknown) => logger.warn({ err }, 'could not flush the last spans'));
        await end(5);
      },
    };
  } catch (err) {
    await end(1).catch(() => {});
    throw err;
  }
}

// Checked before anything starts: a taken port otherwise surfaces only inside the
// WebSocket server (an "internal error" log) and the start never finishes.
function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new StartupError(`PORT ${port} is already in use on ${host} (another gateway or program listens there): stop it or set PORT to a free port`, 'PORT'));
      } else if (err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
        reject(new StartupError(`cannot listen on ${host}:${port} (${err.code}): set PORT (or HOST) to one this user may open`, 'PORT'));
      } else {
        reject(err);
      }
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** A step that never settles (a listen error the HTTP server swallowed) fails the start instead of hanging it. */
function within<T>(step: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StartupError(
      `${what} did not finish within ${START_TIMEOUT_MS / 1000} s (is PORT ${config.port} taken by another program?)`, 'PORT')), START_TIMEOUT_MS);
  });
  return Promise.race([step, late]).finally(() => clearTimeout(timer));
}

async function openAndSeed(): Promise<Database> {
  db = await openDatabase(config, logger);
  const sql = postgres(db.url, { max: 1, onnotice: () => {}, connect_timeout: config.connectTimeoutSeconds });
  try {
    if (db.embedded && db.fresh) {
      await seedDemo(sql);
      logger.info('loaded the demo data set into the fresh embedded database');
    }
    const [row] = await sql<{ empty: boolean }[]>`select not exists (select 1 from items) as empty`;
    if (row?.empty) logger.info('the database has no items yet: `npm run seed` loads the demo data set (or write your own with upsertItems)');
  } finally {
    await sql.end();
  }
  return db;
}

function announce(port: number): void {
  const url = `http://localhost:${port}/graphql`;
  logger.info({ url, workers: config.workers }, 'gateway ready');
  console.log(`Decision-context gateway: ${url} (GraphiQL in a browser; graphql-ws and SSE on the same path)`);
}

async function stopAll(signal: string): Promise<void> {
  await stopServing?.(signal);
  await db?.embedded?.stop();
}

// Registered first: a signal during the start also stops what was started.
function onSignals(): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    stopAll(signal).then(() => process.exit(0), (err) => {
      logger.error({ err }, 'unclean shutdown');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

async function primary(): Promise<void> {
  onSignals();
  await assertPortFree(config.port, config.host);
  const { url } = await openAndSeed();
  if (config.workers <= 1) {
    const gateway = await within(serve(url), 'the gateway');
    stopServing = () => gateway.stop();
    announce(gateway.port);
    return;
  }
  let ready = false;
  let stopping = false;
  let failedStart: (err: Error) => void = () => {};
  const fork = () => cluster.fork({ DATABASE_URL: url, GATEWAY_WORKER: '1' });
  cluster.on('exit', (worker, code) => {
    if (stopping) return;
    // A worker that dies while starting would die again: fail the start rather than fork forever.
    if (!ready) return failedStart(new StartupError(`a gateway worker exited with code ${code} while starting (its log line says why)`, 'WORKERS'));
    logger.error({ pid: worker.process.pid, code }, 'gateway worker died; starting another');
    fork();
  });
  stopServing = async (signal) => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    await Promise.all(workers.map((w) => new Promise((r) => { w!.once('exit', r); w!.process.kill(signal as NodeJS.Signals); })));
  };
  const listening = Array.from({ length: config.workers }, () => new Promise<void>((resolve) => fork().once('listening', () => resolve())));
  await within(Promise.race([Promise.all(listening), new Promise<never>((_, reject) => { failedStart = reject; })]), 'the gateway workers');
  ready = true;
  announce(config.port);
}

async function worker(): Promise<void> {
  onSignals();
  const gateway = await within(serve(process.env.DATABASE_URL!), 'the gateway');
  stopServing = () => gateway.stop();
}

async function failStart(err: unknown): Promise<never> {
  const message = redactSecrets(err instanceof Error ? err.message : String(err));
  if (err instanceof StartupError) logger.fatal({ setting: err.setting }, `gateway failed to start: ${message}`);
  else logger.fatal({ err }, `gateway failed to start: ${message}`);
  console.error(`gateway failed to start: ${message}`);
  // Whatever was started is stopped, but a stop that hangs does not keep the process alive.
  await Promise.race([stopAll('SIGTERM').catch(() => {}), new Promise((r) => setTimeout(r, 5000).unref())]);
  process.exit(1);
}

(cluster.isPrimary ? primary() : worker()).catch(failStart);
