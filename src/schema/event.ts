import { z } from 'zod';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { badInput, DomainError, parseInput } from '../errors.js';
import { describedValues, EVENT_KIND_DESCRIPTIONS, EVENT_KINDS, SKU_EVENT_KINDS, type Event } from '../domain.js';
import type { EventListKey } from '../reads/decision-sql.js';
import { eventList } from '../reads/loaders.js';
import { loadersOf } from '../reads/snapshot.js';
import { sleep } from '../util.js';
import { recordEvents } from '../writes/events.js';
import type { StockLevel } from '../writes/items.js';
import { decisionIdSchema, id, limit as limitSchema, MAX_CANDIDATES, MAX_EVENT_QUANTITY, MAX_EVENTS } from './inputs.js';
import { StockLevelRef } from './inventory.js';

export const EventKindRef = builder.enumType('EventKind', { values: describedValues(EVENT_KINDS, EVENT_KIND_DESCRIPTIONS) });

export const EventRef = builder.objectRef<Event>('Event').implement({
  fields: (t) => ({
    kind: t.expose('kind', { type: EventKindRef }),
    sku: t.exposeID('sku', { nullable: true }),
    quantity: t.exposeInt('quantity'),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

/** A `[Event!]!` field's answer for its `limit` argument (validated here): prefetched by facts, or one more statement. */
export function eventsUpTo(ctx: Context, limit: number, prefetched: Event[] | null, prefetchSize: number, key: Omit<EventListKey, 'limit'>) {
  const valid = parseInput(limitSchema, limit, 'limit');
  return eventList(loadersOf(ctx), prefetched, prefetchSize, { ...key, limit: valid });
}

const EventInputRef = builder.inputType('EventInput', {
  fields: (t) => ({
    kind: t.field({ type: EventKindRef, required: true }),
    userId: t.id({ required: true }),
    sessionId: t.id(),
    sku: t.id({ description: `Required for ${SKU_EVENT_KINDS.join(', ')}.` }),
    quantity: t.int({ defaultValue: 1, description: `Units, 1 to ${MAX_EVENT_QUANTITY}.` }),
    decisionId: t.id({
      description: 'The logged decision (DecisionContext.decisionId with logged: true) this event is an outcome of. '
        + 'Unknown to the log: NOT_FOUND, and the batch is refused.',
    }),
    position: t.int({ description: 'The candidate\'s position in that decision (0-based); it must hold this event\'s SKU. Needs decisionId.' }),
  }),
});

const eventSchema = z.object({
  kind: z.enum(EVENT_KINDS),
  userId: id,
  sessionId: id.nullable(),
  sku: id.nullable(),
  quantity: z.number().int().min(1, 'must be at least 1').max(MAX_EVENT_QUANTITY, `must be at most ${MAX_EVENT_QUANTITY}`),
  decisionId: decisionIdSchema.nullable(),
  position: z.number().int().min(0, 'must not be negative').max(MAX_CANDIDATES - 1, `must be below ${MAX_CANDIDATES}`).nullable(),
}).refine((e) => !SKU_EVENT_KINDS.includes(e.kind) || e.sku !== null, { message: 'is required for this kind', path: ['sku'] })
  .refine((e) => e.position === null || e.decisionId !== null, { message: 'needs decisionId', path: ['position'] });

const RecordEventsPayload = builder.objectRef<{ accepted: number; stock: StockLevel[] }>(
  'RecordEventsPayload',
).implement({
  fields: (t) => ({
    accepted: t.exposeInt('accepted', { description: 'Events written (all of the batch).' }),
    stock: t.expose('stock', { type: [StockLevelRef], description: 'Stock of the purchased SKUs after the batch.' }),
  }),
});

builder.mutationField('recordEvents', (t) => t.field({
  type: RecordEventsPayload,
  description: `Record a batch of events atomically (at most ${MAX_EVENTS}). A PURCHASE takes stock and counts as a sale `
    + 'in the same transaction; a batch that would oversell any SKU is refused whole (INSUFFICIENT_STOCK).',
  args: { events: t.arg({ type: [EventInputRef], required: true }) },
  resolve: async (_, args, ctx) => {
    if (args.events.length > MAX_EVENTS) throw badInput(`events: at most ${MAX_EVENTS} per call`, 'events');
    const events = args.events.map((e, i) => parseInput(eventSchema, {
      kind: e.kind,
      userId: e.userId,
      sessionId: e.sessionId ?? null,
      sku: e.sku ?? null,
      quantity: e.quantity ?? 1,
      decisionId: e.decisionId ?? null,
      position: e.position ?? null,
    }, `events.${i}`));
    // A decision this process logged moments ago may still be in its queue: write it first.
    const cited = events.flatMap((e) => (e.decisionId ? [e.decisionId] : []));
    if (cited.length) await ctx.decisionLog?.settle(cited);
    try {
      return await recordEvents(ctx.sql, events);
    } catch (err) {
      // One logged moments ago by another process may still be on its way: once it has had time to land, try again.
      const missing = err instanceof DomainError && err.extensions.code === 'NOT_FOUND' ? err.extensions.decisionIds : undefined;
      const wait = Array.isArray(missing) ? ctx.decisionLog?.graceMs(missing as string[]) ?? 0 : 0;
      if (!wait) throw err;
      await sleep(wait);
      return recordEvents(ctx.sql, events);
    }
  },
}));
