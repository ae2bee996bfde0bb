// Per-request DataLoaders, each bound to the request's snapshot transaction.
// Sibling fields call them in the same tick, so each loader dispatches one
// statement for all keys and postgres.js pipelines the statements together.
import DataLoader from 'dataloader';
import type { Queryable } from '../db/client.js';
import {
  readEventLists, readFacts, readState,
  type EventListKey, type EventRow, type Facts, type FactsKey, type StateRow,
} from './decision-sql.js';

export interface Loaders {
  facts: DataLoader<FactsKey, Facts, string>;
  state: DataLoader<string, StateRow>;
  eventLists: DataLoader<EventListKey, EventRow[], string>;
  /** Statements these loaders sent (for the per-decision metric). */
  statements: number;
  /** The snapshot these loaders read from, for reads that need no batching. */
  db: Queryable;
}

function bySku<R extends { sku: string }>(read: (skus: readonly string[]) => Promise<R[]>) {
  return async (skus: readonly string[]): Promise<(R | undefined)[]> => {
    const rows = new Map((await read(skus)).map((r) => [r.sku, r]));
    return skus.map((s) => rows.get(s));
  };
}

export function createLoaders(db: Queryable): Loaders {
  const loaders: Loaders = {
    statements: 0,
    db,
    facts: new DataLoader((keys) => { loaders.statements += keys.length; return Promise.all(keys.map((k) => readFacts(db, k))); }, {
      cacheKeyFn: (k) => `${k.userId}\u0000${k.sessionId ?? ''}\u0000${k.region ?? ''}`,
    }),
    // readState returns a row for every requested SKU (left joins).
    state: new DataLoader(bySku((skus) => { loaders.statements++; return readState(db, skus); }) as (skus: readonly string[]) => Promise<StateRow[]>),
    eventLists: new DataLoader((keys) => { loaders.statements++; return readEventLists(db, keys); }, {
      cacheKeyFn: (k) => `${k.of}\u0000${k.id}\u0000${k.limit}`,
    }),
  };
  return loaders;
}
