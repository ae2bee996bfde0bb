// recordEvents: one transaction per batch. Purchases move stock and the sales
// counter together; a batch that would oversell any SKU is refused whole.
import type { Sql } from '../db/client.js';
import { CLICK_KIND, SALE_KIND, type EventKind } from '../domain.js';
import { DomainError } from '../errors.js';
import type { StockLevel } from './items.js';
import { appendChanges, inventoryChanges } from '../live/changelog.js';
import { inWriteTx, lockSkus, sortedUnique } from './tx.js';
import { checkCitedDecisions } from './decision-log.js';
import { bumpCounters } from './velocity.js';

export interface EventInput {
  kind: EventKind; userId: string; sessionId: string | null; sku: string | null; quantity: number;
  /** The logged decision this event is an outcome of, and the candidate's position in it (0-based). */
  decisionId?: string | null; position?: number | null;
}

const sessionOfAnotherUser = (ids: string[]) => new DomainError('BAD_USER_INPUT',
  `Session(s) ${ids.join(', ')} belong to another user: a session is its first event's user's; the batch was refused and nothing was written`,
  { field: 'sessionId', sessions: ids });

const COUNTER_SLICE = 2000;

export interface RecordResult { accepted: number; stock: StockLevel[] }

export async function recordEvents(sql: Sql, events: EventInput[]): Promise<RecordResult> {
  const sales = new Map<string, number>();
  const clicks = new Map<string, number>();
  for (const e of events) {
    if (e.sku === null) continue;
    if (e.kind === SALE_KIND) sales.set(e.sku, (sales.get(e.sku) ?? 0) + e.quantity);
    if (e.kind === CLICK_KIND) clicks.set(e.sku, (clicks.get(e.sku) ?? 0) + e.quantity);
  }
  const skus = sortedUnique(events.flatMap((e) => (e.sku === null ? [] : [e.sku])));
  const counted = sortedUnique([...sales.keys(), ...clicks.keys()]);
  const purchased = [...sales.keys()].sort();

  const sessions = new Map<string, string>();
  for (const e of events) {
    if (e.sessionId === null) continue;
    if ((sessions.get(e.sessionId) ?? e.userId) !== e.userId) throw sessionOfAnotherUser([e.sessionId]);
    sessions.set(e.sessionId, e.userId);
  }

  return inWriteTx(sql, async (tx) => {
    const { known, clock } = await lockSkus(tx, skus);
    const unknown = skus.filter((s) => !known.has(s));
    if (unknown.length) throw new DomainError('NOT_FOUND', `Unknown SKU(s): ${unknown.join(', ')}`, { skus: unknown });
    await checkCitedDecisions(tx, events);

    let stock: StockLevel[] = [];
    if (purchased.length) {
      stock = await tx<StockLevel[]>`
        update inventory i set available = i.available - d.q, updated_at = ${clock.at}::timestamptz
        from unnest(${purchased}::text[], ${purchased.map((s) => sales.get(s)!)}::int[]) as d(sku, q)
        where i.sku = d.sku
        returning i.sku, i.available, i.reserved, i.updated_at as "updatedAt", i.available + d.q as previous,
          i.reserved as "previousReserved"`;
      const short = stock.filter((r) => r.available - r.reserved < 0).map((r) => r.sku).sort();
      if (short.length) {
        throw new DomainError('INSUFFICIENT_STOCK',
          `Not enough sellable stock for SKU(s): ${short.join(', ')}; the batch was refused and nothing was written`,
          { skus: short });
      }
    }
    // In slices, so that no one statement of a large batch nears the statement timeout (each SKU's ring
    // write rewrites a ~3 KB row). The slices share this transaction and the rows are already locked:
    // atomicity and lock order hold.
    for (let i = 0; i < counted.length; i += COUNTER_SLICE) {
      await bumpCounters(tx, counted.slice(i, i + COUNTER_SLICE)
        .map((sku) => ({ sku, sales: sales.get(sku) ?? 0, clicks: clicks.get(sku) ?? 0 })), clock.epoch);
    }
    await tx`
      insert into events (kind, user_id, session_id, sku, quantity, decision_id, position, at)
      select *, ${clock.at}::timestamptz from unnest(${events.map((e) => e.kind)}::text[], ${events.map((e) => e.userId)}::text[],
                           ${events.map((e) => e.sessionId) as string[]}::text[], ${events.map((e) => e.sku) as string[]}::text[],
                           ${events.map((e) => e.quantity)}::int[], ${events.map((e) => e.decisionId ?? null) as string[]}::uuid[],
                           ${events.map((e) => e.position ?? null) as number[]}::int[])`;
    if (sessions.size) {
      const ids = [...sessions.keys()].sort();
      // A session belongs to the user of its first event. The upsert returns the stored owner; a
      // concurrent first event of another user waits on the row and then sees the winner.
      const owners = await tx<{ id: string; userId: string }[]>`
        insert into sessions as s (id, user_id, last_event_at)
        select id, u, ${clock.at}::timestamptz from unnest(${ids}::text[], ${ids.map((id) => sessions.get(id)!)}::text[]) as t(id, u)
        on conflict (id) do update set last_event_at = greatest(s.last_event_at, excluded.last_event_at)
        returning s.id, s.user_id as "userId"`;
      const foreign = owners.filter((o) => o.userId !== sessions.get(o.id)).map((o) => o.id);
      if (foreign.length) throw sessionOfAnotherUser(foreign);
    }
    await appendChanges(tx, inventoryChanges(stock, 'PURCHASE'));
    return { accepted: events.length, stock };
  });
}
