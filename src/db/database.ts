// Where the database comes from: DATABASE_URL when set and non-empty, else an
// embedded PostgreSQL in DATA_DIR. Either way migrations run before serving.
// A failure here names the setting to change, with any password masked.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { redactSecrets, type Logger } from '../logger.js';
import postgres from 'postgres';
import { embeddedUrl, startEmbedded, StartupError, type EmbeddedServer } from './embedded.js';
import { migrate } from './migrate.js';

export { StartupError };

export interface Database {
  url: string;
  embedded: EmbeddedServer | null;
  /** True when the embedded data directory was empty before this start. */
  fresh: boolean;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);

/** Turns a failure to reach or migrate DATABASE_URL's database into one line naming the setting. */
function databaseFailure(err: unknown, url: string): Error {
  const where = redactSecrets(url);
  const code = (err as { code?: string } | null)?.code;
  const why = redactSecrets(err instanceof Error ? err.message : String(err));
  const fix = 'fix DATABASE_URL, or unset it to use the embedded PostgreSQL';
  if (code === 'ERR_INVALID_URL') {
    return new StartupError(`DATABASE_URL is not a valid URL (${where}): expected postgres://user:password@host:port/database`, 'DATABASE_URL');
  }
  if (code && UNREACHABLE.has(code)) return new StartupError(`cannot reach PostgreSQL at DATABASE_URL ${where} (${why}): ${fix}`, 'DATABASE_URL');
  if (code === '28P01' || code === '28000') return new StartupError(`PostgreSQL at DATABASE_URL ${where} refused the login (${why}): ${fix}`, 'DATABASE_URL');
  if (code === '3D000') return new StartupError(`the database in DATABASE_URL ${where} does not exist (${why}): create it or ${fix}`, 'DATABASE_URL');
  return new StartupError(`migrating the database at DATABASE_URL ${where} failed: ${why}`, 'DATABASE_URL');
}

async function migrateExternal(url: string): Promise<void> {
  if (!/^postgres(ql)?:\/\//i.test(url)) throw databaseFailure(Object.assign(new Error('not a postgres:// URL'), { code: 'ERR_INVALID_URL' }), url);
  try {
    await migrate(url);
  } catch (err) {
    throw databaseFailure(err, url);
  }
}

export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl) {
    await migrateExternal(config.databaseUrl);
    logger.info({ database: redactSecrets(config.databaseUrl) }, `using the database at DATABASE_URL ${redactSecrets(config.databaseUrl)}`);
    return { url: config.databaseUrl, embedded: null, fresh: false };
  }
  const fresh = !fs.existsSync(path.join(config.dataDir, 'PG_VERSION'));
  logger.info({ dataDir: config.dataDir, port: config.embeddedPort }, 'starting embedded PostgreSQL');
  const embedded = await startEmbedded({
    dataDir: config.dataDir,
    port: config.embeddedPort,
    onLog: (line) => logger.debug({ pg: line }),
  });
  try {
    await migrate(embedded.url);
  } catch (err) {
    await embedded.stop().catch(() => {});
    throw err;
  }
  logger.info({ database: redactSecrets(embedded.url), dataDir: config.dataDir },
    `using the embedded PostgreSQL ${redactSecrets(embedded.url)} with data in ${config.dataDir}`);
  return { url: embedded.url, embedded, fresh };
}

/**
 * For one-off scripts (seed, keys, export): with the embedded default, use the server a
 * running gateway already started on the same port rather than starting another. Always
 * says on stderr which database it uses: a key created in a database the gateway does not
 * read (it runs with DATABASE_URL, the script without) would leave auth off without a word.
 */
export async function openForScript(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl) {
    console.error(`using DATABASE_URL ${redactSecrets(config.databaseUrl)}`);
    return openDatabase(config, logger);
  }
  const url = embeddedUrl(config.embeddedPort);
  const probe = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
  const running = await probe`select 1`.then(() => true, () => false);
  await probe.end();
  if (running) {
    console.error(`using the embedded PostgreSQL on port ${config.embeddedPort} (a running gateway's; DATABASE_URL is unset)`);
    await migrate(url);
    return { url, embedded: null, fresh: false };
  }
  console.error(`using the embedded PostgreSQL with data in ${config.dataDir}, started for this script: no server answers on `
    + `EMBEDDED_PG_PORT ${config.embeddedPort}. If your gateway runs with DATABASE_URL, set it here too.`);
  return openDatabase(config, logger);
}
