// Per-request DataLoaders, each bound to the request's snapshot transaction.
// Sibling fields call them in the same tick, so each loader dispatches one
// statement for all keys and postgres.js pipelines the statements together.
import DataLoader from 'dataloader';
import type { Queryable } from '../db/client.js';
import type { Event } from '../domain.js';
import {
  readEventLists, readFacts, readState,
  type EventListKey, type Facts, type FactsKey, type StateRow,
} from './decision-sql.js';

export interface Loaders {
  facts: DataLoader<FactsKey, Facts, string>;
  state: DataLoader<string, StateRow>;
  eventLists: DataLoader<EventListKey, Event[], string>;
  /** Statements these loaders sent (for the per-decision metric). */
  statements: number;
  /** The snapshot these loaders read from, for reads that need no batching. */
  db: Queryable;
}

/** The readers a test can move out of the shared transaction one at a time. */
export type Reader = 'facts' | 'state' | 'eventLists' | 'db';

/**
 * TEST ONLY: run the named readers on `sql` (the pool: each statement takes its
 * own snapshot) instead of the transaction, to prove the consistency test
 * notices when any single reader leaves the shared snapshot.
 */
export interface OutsideReaders { sql: Queryable; names: ReadonlyArray<Reader> }

function bySku<R extends { sku: string }>(read: (skus: readonly string[]) => Promise<R[]>) {
  return async (skus: readonly string[]): Promise<(R | undefined)[]> => {
    const rows = new Map((await read(skus)).map((r) => [r.sku, r]));
    return skus.map((s) => rows.get(s));
  };
}

/**
 * An event list: the facts statement prefetches the first `prefetchSize`
 * events; a longer limit costs one more statement (batched across the operation).
 */
export function eventList(loaders: Loaders, prefetched: Event[], prefetchSize: number, key: EventListKey): Event[] | Promise<Event[]> {
  if (key.limit <= prefetched.length || prefetched.length < prefetchSize) return prefetched.slice(0, key.limit);
  return loaders.eventLists.load(key);
}

export function createLoaders(tx: Queryable, outside?: OutsideReaders): Loaders {
  // Production passes no `outside`: every reader is the transaction, at the cost of four undefined checks.
  const on = (r: Reader) => (outside?.names.includes(r) ? outside.sql : tx);
  const [factsDb, stateDb, listsDb] = [on('facts'), on('state'), on('eventLists')];
  const loaders: Loaders = {
    statements: 0,
    db: on('db'),
    facts: new DataLoader((keys) => { loaders.statements += keys.length; return Promise.all(keys.map((k) => readFacts(factsDb, k))); }, {
      cacheKeyFn: (k) => `${k.userId}\u0000${k.sessionId ?? ''}\u0000${k.region ?? ''}`,
    }),
    // readState returns a row for every requested SKU (left joins).
    state: new DataLoader(bySku((skus) => { loaders.statements++; return readState(stateDb, skus); }) as (skus: readonly string[]) => Promise<StateRow[]>),
    eventLists: new DataLoader((keys) => { loaders.statements++; return readEventLists(listsDb, keys); }, {
      cacheKeyFn: (k) => `${k.of}\u0000${k.id}\u0000${k.userId}\u0000${k.limit}`,
    }),
  };
  return loaders;
}
