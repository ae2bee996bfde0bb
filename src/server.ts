// `npm start`: open the database (embedded unless DATABASE_URL), migrate, seed
// a fresh embedded database with demo data, serve /graphql, drain on SIGINT/SIGTERM.
// With WORKERS > 1 the primary owns the database and forks that many gateway
// processes sharing the port (node:cluster), so GraphQL work uses every core.
import cluster from 'node:cluster';
import { loadConfig } from './config.js';
import { createSql } from './db/client.js';
import { openDatabase, type Database } from './db/database.js';
import { seedDemo } from './db/seed.js';
import { startGateway } from './gateway.js';
import { createLogger } from './logger.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);

/** One gateway process: pool, change hub, HTTP and WebSocket. Resolves to its shutdown. */
async function serve(url: string): Promise<{ port: number; stop(): Promise<void> }> {
  const sql = createSql(url, config);
  const gateway = await startGateway(sql, config, logger);
  return {
    port: gateway.port,
    async stop() {
      await gateway.close();
      await sql.end({ timeout: 5 });
    },
  };
}

async function openAndSeed(): Promise<Database> {
  const db = await openDatabase(config, logger);
  if (db.embedded && db.fresh) {
    const sql = createSql(db.url, config);
    await seedDemo(sql);
    await sql.end();
    logger.info('loaded the demo data set into the fresh embedded database');
  }
  return db;
}

function announce(port: number): void {
  const url = `http://localhost:${port}/graphql`;
  logger.info({ url, workers: config.workers }, 'gateway ready');
  console.log(`Decision-context gateway: ${url} (GraphiQL in a browser; graphql-ws and SSE on the same path)`);
}

function onSignals(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    stop(signal).then(() => process.exit(0), (err) => {
      logger.error({ err }, 'unclean shutdown');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

async function primary(): Promise<void> {
  const db = await openAndSeed();
  if (config.workers <= 1) {
    const gateway = await serve(db.url);
    announce(gateway.port);
    onSignals(async () => {
      await gateway.stop();
      await db.embedded?.stop();
    });
    return;
  }
  let stopping = false;
  const fork = () => cluster.fork({ DATABASE_URL: db.url, GATEWAY_WORKER: '1' });
  cluster.on('exit', (worker, code) => {
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code }, 'gateway worker died; starting another');
    fork();
  });
  const ready = Array.from({ length: config.workers }, () => new Promise<void>((resolve) => fork().once('listening', () => resolve())));
  await Promise.all(ready);
  announce(config.port);
  onSignals(async (signal) => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    await Promise.all(workers.map((w) => new Promise((r) => { w!.once('exit', r); w!.process.kill(signal as NodeJS.Signals); })));
    await db.embedded?.stop();
  });
}

async function worker(): Promise<void> {
  const gateway = await serve(process.env.DATABASE_URL!);
  onSignals(() => gateway.stop());
}

(cluster.isPrimary ? primary() : worker()).catch((err: unknown) => {
  logger.fatal({ err }, 'gateway failed to start');
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
