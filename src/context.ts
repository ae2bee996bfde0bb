// What every resolver receives. `loaders` exists only inside a query's
// snapshot transaction (set by reads/snapshot.ts); mutations use `sql`.
import type { Sql } from './db/client.js';
import type { Principal } from './auth/keys.js';
import type { ChangeHub } from './live/hub.js';
import type { Loaders } from './reads/loaders.js';
import type { Route } from './reads/replicas.js';

export interface Context {
  sql: Sql;
  loaders?: Loaders;
  /** Where the query's snapshot is read (set with `loaders` when read replicas are on; absent: the primary). */
  route?: Route;
  hub?: ChangeHub;
  /** The caller (set by plugins/auth.ts; absent when auth is not wired, e.g. in unit tests). */
  principal?: Principal;
}
