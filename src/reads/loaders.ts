// Per-request DataLoaders, each bound to the request's snapshot transaction.
// Sibling fields call them in the same tick, so each loader dispatches one
// statement for all keys and postgres.js pipelines the statements together.
import DataLoader from 'dataloader';
import type { Queryable } from '../db/client.js';
import type { Event } from '../domain.js';
import {
  readEventLists, readFacts, readFactsAndState, readState,
  type EventListKey, type Facts, type FactsKey, type StateRow,
} from './decision-sql.js';

export interface Loaders {
  facts: DataLoader<FactsKey, Facts, string>;
  state: DataLoader<string, StateRow>;
  eventLists: DataLoader<EventListKey, Event[], string>;
  /** Statements these loaders sent (for the per-decision metric). */
  statements: number;
  /** BEGIN and COMMIT around them: 2 in a transaction, 0 for one statement. */
  transactionStatements: 0 | 2;
  /** The snapshot these loaders read from, for reads that need no batching. */
  db: Queryable;
  /** One-statement loaders only: the operation asked for a second statement, so it must run again in a transaction. */
  escalated?: boolean;
}

/** Thrown by one-statement loaders at a read they cannot serve from their one statement. */
export class NeedsTransaction extends Error {
  constructor() { super('this operation reads across ticks: it runs again in a snapshot transaction'); }
}

/** The readers a test can move out of the shared transaction one at a time. */
export type Reader = 'facts' | 'state' | 'eventLists' | 'db';

/**
 * TEST ONLY: run the named readers on `sql` (the pool: each statement takes its
 * own snapshot) instead of the transaction, to prove the consistency test
 * notices when any single reader leaves the shared snapshot.
 */
export interface OutsideReaders { sql: Queryable; names: ReadonlyArray<Reader> }

/** `rows` in the order of `skus` (readState answers a row for every SKU asked, in its own order). */
function inSkuOrder<R extends { sku: string }>(rows: readonly R[], skus: readonly string[]): R[] {
  const bySku = new Map(rows.map((r) => [r.sku, r]));
  return skus.map((s) => bySku.get(s)!);
}

/**
 * An event list: the facts statement prefetches the first `prefetchSize`
 * events (null: it did not, see FactsKey.eventLists); a longer limit, or none
 * prefetched, costs one more statement (batched across the operation).
 */
export function eventList(loaders: Loaders, prefetched: Event[] | null, prefetchSize: number, key: EventListKey): Event[] | Promise<Event[]> {
  if (prefetched && (key.limit <= prefetched.length || prefetched.length < prefetchSize)) return prefetched.slice(0, key.limit);
  return loaders.eventLists.load(key);
}

const factsCacheKey = (k: FactsKey) => `${k.userId}\u0000${k.sessionId ?? ''}\u0000${k.region ?? ''}\u0000${k.eventLists}`;

export function createLoaders(tx: Queryable, outside?: OutsideReaders): Loaders {
  // Production passes no `outside`: every reader is the transaction, at the cost of four undefined checks.
  const on = (r: Reader) => (outside?.names.includes(r) ? outside.sql : tx);
  const [factsDb, stateDb, listsDb] = [on('facts'), on('state'), on('eventLists')];
  const loaders: Loaders = {
    statements: 0,
    transactionStatements: 2,
    db: on('db'),
    facts: new DataLoader((keys) => { loaders.statements += keys.length; return Promise.all(keys.map((k) => readFacts(factsDb, k))); }, {
      cacheKeyFn: factsCacheKey,
    }),
    state: new DataLoader(async (skus) => { loaders.statements++; return inSkuOrder(await readState(stateDb, skus), skus); }),
    eventLists: new DataLoader((keys) => { loaders.statements++; return readEventLists(listsDb, keys); }, {
      cacheKeyFn: (k) => `${k.of}\u0000${k.id}\u0000${k.userId}\u0000${k.limit}`,
    }),
  };
  return loaders;
}

/**
 * Loaders for an operation whose reads all leave in one tick, as a decision's do: the
 * facts and the candidates' state go out as ONE statement on the pool, which reads one
 * snapshot without BEGIN or COMMIT. Any read after that statement, or one it cannot
 * hold (several facts keys, longer event lists, direct reads), marks the loaders
 * `escalated` and fails: the caller then runs the operation again in a transaction.
 */
export function createOneStatementLoaders(pool: Queryable): Loaders {
  type Pending<K, V> = { keys: readonly K[]; resolve(v: V[]): void; reject(e: unknown): void };
  let facts: Pending<FactsKey, Facts> | undefined;
  let state: Pending<string, StateRow> | undefined;
  let scheduled = false;
  let sent = false;
  // Marks the operation for the transaction path; the caller throws or rejects with it.
  const escalate = () => {
    loaders.escalated = true;
    return new NeedsTransaction();
  };
  const flush = () => {
    scheduled = false;
    const [f, s] = [facts, state];
    facts = state = undefined;
    const fail = (e: unknown) => { f?.reject(e); s?.reject(e); };
    if (sent || (f && f.keys.length > 1)) return fail(escalate());
    sent = true;
    loaders.statements++;
    const read = f && s ? readFactsAndState(pool, f.keys[0]!, s.keys)
      : f ? readFacts(pool, f.keys[0]!).then((one) => ({ facts: one, state: [] }))
        : readState(pool, s!.keys).then((rows) => ({ facts: undefined, state: rows }));
    read.then(({ facts: one, state: rows }) => {
      f?.resolve([one!]);
      s?.resolve(inSkuOrder(rows, s.keys));
    }, fail);
  };
  // Both loaders dispatch in the same tick (DataLoader: a nextTick after the loads' microtasks); the flush queued by
  // the first runs after the second's dispatch, so one statement carries both.
  const schedule = () => { if (!scheduled) { scheduled = true; process.nextTick(flush); } };
  const loaders: Loaders = {
    statements: 0,
    transactionStatements: 0,
    escalated: false,
    get db(): Queryable { throw escalate(); },
    facts: new DataLoader((keys) => new Promise<Facts[]>((resolve, reject) => { facts = { keys, resolve, reject }; schedule(); }), {
      cacheKeyFn: factsCacheKey,
    }),
    state: new DataLoader((skus) => new Promise<StateRow[]>((resolve, reject) => { state = { keys: skus, resolve, reject }; schedule(); })),
    eventLists: new DataLoader(async () => { throw escalate(); }),
  };
  return loaders;
}
