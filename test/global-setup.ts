// One fresh database per test run: on DATABASE_URL's server when set (CI's
// second pass), else on an embedded PostgreSQL started for this run.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type EmbeddedServer } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext { databaseUrl: string; adminUrl: string }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

let embedded: EmbeddedServer | undefined;
let dataDir: string | undefined;

export default async function setup(project: TestProject) {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    dataDir = path.resolve('.data', `test-${process.pid}-${Date.now()}`);
    embedded = await startEmbedded({ dataDir, port: await freePort() });
    adminUrl = embedded.url;
  }
  const dbName = `gw_test_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const databaseUrl = withDatabase(adminUrl, dbName);
  await migrate(databaseUrl);
  project.provide('databaseUrl', databaseUrl);
  project.provide('adminUrl', adminUrl);
  console.log(`tests run on database ${dbName} (${embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'})`);

  return async () => {
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
    await embedded?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
