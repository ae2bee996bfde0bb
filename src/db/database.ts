// Where the database comes from: DATABASE_URL when set and non-empty, else an
// embedded PostgreSQL in DATA_DIR. Either way migrations run before serving.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import postgres from 'postgres';
import { embeddedUrl, startEmbedded, type EmbeddedServer } from './embedded.js';
import { migrate } from './migrate.js';

export interface Database {
  url: string;
  embedded: EmbeddedServer | null;
  /** True when the embedded data directory was empty before this start. */
  fresh: boolean;
}

export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  let url = config.databaseUrl;
  let embedded: EmbeddedServer | null = null;
  let fresh = false;
  if (!url) {
    fresh = !fs.existsSync(path.join(config.dataDir, 'PG_VERSION'));
    logger.info({ dataDir: config.dataDir, port: config.embeddedPort }, 'starting embedded PostgreSQL');
    embedded = await startEmbedded({
      dataDir: config.dataDir,
      port: config.embeddedPort,
      onLog: (line) => logger.debug({ pg: line }),
    });
    url = embedded.url;
  }
  await migrate(url);
  return { url, embedded, fresh };
}

/**
 * For one-off scripts (seed, keys): with the embedded default, use the server a
 * running gateway already started on the same port rather than starting another.
 */
export async function openForScript(config: Config, logger: Logger): Promise<Database> {
  if (!config.databaseUrl) {
    const url = embeddedUrl(config.embeddedPort);
    const probe = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
    const running = await probe`select 1`.then(() => true, () => false);
    await probe.end();
    if (running) {
      await migrate(url);
      return { url, embedded: null, fresh: false };
    }
  }
  return openDatabase(config, logger);
}
