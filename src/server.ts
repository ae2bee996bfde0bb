// `npm start`: open the database (embedded unless DATABASE_URL), migrate, seed
// a fresh embedded database with demo data, serve /graphql, drain on SIGINT/SIGTERM.
import { loadConfig } from './config.js';
import { createSql } from './db/client.js';
import { openDatabase } from './db/database.js';
import { seedDemo } from './db/seed.js';
import { startGateway } from './gateway.js';
import { createLogger } from './logger.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);

async function main(): Promise<void> {
  const db = await openDatabase(config, logger);
  const sql = createSql(db.url, config);
  if (db.embedded && db.fresh) {
    await seedDemo(sql);
    logger.info('loaded the demo data set into the fresh embedded database');
  }
  const gateway = await startGateway(sql, config, logger);
  const url = `http://localhost:${gateway.port}/graphql`;
  logger.info({ url }, 'gateway ready');
  console.log(`Decision-context gateway: ${url} (GraphiQL in a browser; graphql-ws and SSE on the same path)`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    await gateway.close();
    await sql.end({ timeout: 5 });
    await db.embedded?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'gateway failed to start');
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
