// `npm run seed`: load the demo data set into DATABASE_URL (or the embedded database).
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { openForScript } from '../db/database.js';
import { createLogger } from '../logger.js';
import { seedDemo } from '../writes/seed.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const db = await openForScript(config, logger);
const sql = createSql(db.url, config);
try {
  await seedDemo(sql);
  console.log('Seeded the demo data set.');
} finally {
  await sql.end();
  await db.embedded?.stop();
}
