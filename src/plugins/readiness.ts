// GET /ready: 200 when the database answers, every migration is applied and
// the change listener is connected; 503 with what is missing otherwise.
// (GET /health is yoga's liveness check: the process is up.)
import fs from 'node:fs';
import { useReadinessCheck, type Plugin } from 'graphql-yoga';
import type { Sql } from '../db/client.js';
import type { ChangeHub } from '../live/hub.js';

const journal = JSON.parse(fs.readFileSync(new URL('../../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as {
  entries: unknown[];
};

export interface Readiness { database: boolean; migrations: boolean; changeListener: boolean }

export async function readiness(sql: Sql, hub: ChangeHub | undefined): Promise<Readiness> {
  let database = false;
  let migrations = false;
  try {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    database = true;
    migrations = row!.n >= journal.entries.length;
  } catch { /* unreachable or not migrated: reported below */ }
  return { database, migrations, changeListener: hub?.listening ?? false };
}

export function useReadiness(sql: Sql, hub: ChangeHub | undefined): Plugin {
  return useReadinessCheck({
    endpoint: '/ready',
    check: async ({ fetchAPI }) => {
      const state = await readiness(sql, hub);
      const ok = state.database && state.migrations && state.changeListener;
      return new fetchAPI.Response(JSON.stringify({ ready: ok, ...state }), {
        status: ok ? 200 : 503,
        headers: { 'content-type': 'application/json' },
      });
    },
  });
}
