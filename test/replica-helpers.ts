// An embedded PostgreSQL 18 primary with streaming hot standbys of it (src/db/standby.ts), for the replica tests:
// their OWN servers, whatever DATABASE_URL says (CI's second pass points it at a PostgreSQL 15 without
// replication configured), removed at the end.
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { createSql, type Sql } from '../src/db/client.js';
import { startEmbedded, type EmbeddedServer } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { startStandby, type Standby } from '../src/db/standby.js';
import { ReplicaRouter } from '../src/reads/replicas.js';
import { freePort, withDatabase } from './global-setup.js';

export interface ReplicaSet {
  primary: EmbeddedServer;
  /** A superuser connection to the primary's server (ALTER SYSTEM, …). */
  admin: postgres.Sql;
  /** The migrated database on the primary, and its pool. */
  primaryDb: string;
  sql: Sql;
  standbys: Standby[];
  router: ReplicaRouter;
  close(): Promise<void>;
}

export async function replicaSet(tag: string, standbys: number, router: { maxLagMs: number; checkMs: number }): Promise<ReplicaSet> {
  const base = path.resolve('.data', `${tag}-${process.pid}-${Date.now()}`);
  const primary = await startEmbedded({ dataDir: path.join(base, 'primary'), port: await freePort() });
  const admin = postgres(primary.url, { max: 1, onnotice: () => {} });
  await admin.unsafe('create database gw_replica');
  const primaryDb = withDatabase(primary.url, 'gw_replica');
  await migrate(primaryDb);
  const started: Standby[] = [];
  for (let i = 0; i < standbys; i++) started.push(await startStandby(primary, { dataDir: path.join(base, `standby${i}`), port: await freePort() }));
  const sql = createSql(primaryDb, { poolMax: 8, connectTimeoutSeconds: 2, statementTimeoutMs: 5000 });
  const r = new ReplicaRouter(sql, started.map((s) => withDatabase(s.url, 'gw_replica')), {
    ...router, sqlConfig: { poolMax: 8, connectTimeoutSeconds: 1, statementTimeoutMs: 5000 },
  });
  await r.start();
  return {
    primary, admin, primaryDb, sql, standbys: started, router: r,
    async close() {
      await r.stop();
      await sql.end({ timeout: 5 });
      await admin.end();
      for (const s of started) await s.remove().catch(() => {});
      await primary.stop();
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}
