// Test harness: a gateway on the run's database, queried through yoga's fetch
// (the full HTTP handling, without a socket), counting real SQL statements.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { migrate, migrationsFolder } from '../src/db/migrate.js';
import { withDatabase } from './global-setup.js';
import { createApp, type App, type AppOptions } from '../src/app.js';
import { createSql, type Sql } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import type { SnapshotOptions } from '../src/reads/snapshot.js';

type PoolSettings = Parameters<typeof createSql>[1];

export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
}

export interface TestGateway {
  /** The database it runs on. */
  url: string;
  /** The snapshot pool (also what tests set up data through). */
  sql: Sql;
  /** The mutations' pool, as in production (PG_WRITE_POOL_MAX); `sql` itself with `writePool: 'shared'`. */
  writeSql: Sql;
  statements: string[];
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>>;
  close(): Promise<void>;
  /** The app itself (for /metrics and other paths). */
  app: App;
}

export interface TestGatewayOptions extends SnapshotOptions, Pick<AppOptions, 'decisionLog' | 'attributionWindowS' | 'keys'> {
  production?: boolean;
  /** The database (default: the run's). */
  url?: string;
  /** Pool size and timeouts (default: 10 connections, 2 s to connect, 5 s per statement). */
  pool?: PoolSettings;
  /** The write pool's (default: 4 connections, otherwise as `pool`); 'shared': mutations use the snapshot pool. */
  writePool?: PoolSettings | 'shared';
}

/** One GraphQL POST through `app`'s fetch (the full HTTP handling, without a socket). */
export async function gql<T = any>(app: App, query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>> {
  const res = await app.fetch('http://test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  return { ...((await res.json()) as GqlResponse<T>), status: res.status };
}

export function testGateway(opts: TestGatewayOptions = {}): TestGateway {
  const statements: string[] = [];
  const url = opts.url ?? inject('databaseUrl');
  const pool = opts.pool ?? { poolMax: 10, connectTimeoutSeconds: 2, statementTimeoutMs: 5000 };
  const sql = createSql(url, pool, (_conn, query) => statements.push(query));
  const writeSql = opts.writePool === 'shared' ? sql
    : createSql(url, opts.writePool ?? { ...pool, poolMax: 4, pool: 'write pool' }, (_conn, query) => statements.push(query));
  const app = createApp({ sql, writeSql, logger: createLogger('silent'), production: opts.production, ...opts });
  return {
    url,
    sql,
    writeSql,
    statements,
    app,
    gql: (query, variables) => gql(app, query, variables),
    close: async () => { await Promise.all([sql.end({ timeout: 5 }), writeSql !== sql && writeSql.end({ timeout: 5 })]); },
  };
}

/** A unique prefix, so test files share one database without seeing each other's rows. */
export const uid = (tag = 't') => `${tag}-${randomUUID().slice(0, 8)}`;

export function items(prefix: string, specs: Record<string, { category?: string; available?: number; price?: number }>) {
  return Object.entries(specs).map(([name, s]) => ({
    sku: `${prefix}-${name}`,
    title: `Item ${name}`,
    category: s.category ?? `${prefix}-cat`,
    priceMinor: s.price ?? 1000,
    currency: 'EUR',
    available: s.available ?? 10,
  }));
}

export const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { count } }`;
export const RECORD = `mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted stock { sku available previous } } }`;
/** Every field of a candidate (the decision documents of the tests select them all). */
export const CANDIDATE_FIELDS = `candidates {
      sku item { sku title category } inventory { available reserved updatedAt }
      velocity { salesLast5s salesLast5m clicksLast30s }
      price { amountMinor currency listAmountMinor updatedAt }
      policy { scope target kind active reason changedAt }
      fulfillment { region nextSlotAt congestion latencyMinutes }
      eligible reasons
    }`;
export const DECISION = `query($u: ID!, $s: ID, $c: [ID!]!, $r: String) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r) {
    snapshot { id readAt }
    user { id segment flags { scope target kind active reason } recentPurchases { kind sku quantity at } }
    session { id intent lastEventAt recentEvents { kind sku quantity at } }
    ${CANDIDATE_FIELDS}
  }
}`;

/** Fails the test with the GraphQL errors when a call did not succeed. */
export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** A gateway on a database of its own (below); close() also drops the database. */
export async function ownGateway(opts: Omit<TestGatewayOptions, 'url'> = {}): Promise<TestGateway> {
  const db = await ownDatabase();
  const gw = testGateway({ ...opts, url: db.url });
  return { ...gw, async close() { await gw.close(); await db.drop(); } };
}

export interface Journal { entries: { idx: number; when: number; tag: string }[] }
export const readJournal = (folder: string): Journal =>
  JSON.parse(fs.readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')) as Journal;

/**
 * A migrations folder holding only the first `count` migrations (SQL files and
 * journal entries), optionally with some files' text replaced (by tag): migrate()
 * to it leaves a database in that earlier state. Remove it with fs.rmSync.
 */
export function migrationsUpTo(count: number, replace: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-mig-'));
  const journal = readJournal(migrationsFolder);
  journal.entries = journal.entries.slice(0, count);
  fs.mkdirSync(path.join(dir, 'meta'));
  fs.writeFileSync(path.join(dir, 'meta', '_journal.json'), JSON.stringify(journal));
  for (const { tag } of journal.entries) {
    fs.copyFileSync(replace[tag] ?? path.join(migrationsFolder, `${tag}.sql`), path.join(dir, `${tag}.sql`));
  }
  return dir;
}

/**
 * A database of its own, for tests that touch shared tables as a whole (retention, pruning) or start from an
 * earlier schema: with `upTo`, only the first `upTo` migrations are applied (see migrationsUpTo).
 * `sql` is one connection to it (opened on first use); drop() closes it and drops the database.
 */
export async function ownDatabase({ upTo, replace }: { upTo?: number; replace?: Record<string, string> } = {},
): Promise<{ url: string; sql: postgres.Sql; drop(): Promise<void> }> {
  const admin = postgres(inject('adminUrl'), { max: 1, onnotice: () => {} });
  const name = `gw_own_${Date.now()}_${randomUUID().slice(0, 6)}`;
  await admin.unsafe(`create database ${name}`);
  const url = withDatabase(inject('adminUrl'), name);
  if (upTo === undefined) {
    await migrate(url);
  } else {
    const folder = migrationsUpTo(upTo, replace);
    try {
      await migrate(url, folder);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  }
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  return {
    url,
    sql,
    async drop() {
      await sql.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * A transaction held open on a connection of its own: `take` runs in it (e.g. takes a lock) and the call returns
 * once it has; `release()` runs `atRelease` in it (e.g. reads its clock), commits, and returns what that gave.
 */
export async function holdInTransaction<R = undefined>(
  url: string, take: (tx: postgres.TransactionSql) => Promise<unknown>, atRelease?: (tx: postgres.TransactionSql) => Promise<R>,
): Promise<{ release(): Promise<R | undefined> }> {
  const conn = postgres(url, { max: 1, onnotice: () => {} });
  let letGo!: () => void;
  const released = new Promise<void>((r) => { letGo = r; });
  let taken!: () => void;
  let failed!: (err: unknown) => void;
  const isTaken = new Promise<void>((resolve, reject) => { taken = resolve; failed = reject; });
  let result: R | undefined;
  const done = conn.begin(async (tx) => {
    await take(tx);
    taken();
    await released;
    if (atRelease) result = await atRelease(tx);
  });
  done.catch(failed);
  await isTaken;
  return {
    async release() {
      letGo();
      try { await done; } finally { await conn.end(); }
      return result;
    },
  };
}
