import { builder } from '../builder.js';
import { loadersOf, type Context } from '../context.js';
import { parseInput } from '../errors.js';
import { PREFETCH_PURCHASES, type EventListKey, type EventRow, type Facts } from '../reads/decision-sql.js';
import { Event } from './event.js';
import { limit as limitSchema } from './inputs.js';
import { PolicyFlag } from './policy.js';

export interface UserShape { id: string; facts: Facts }

/**
 * The facts statement prefetches the default number of events; a bigger
 * limit costs one more statement (batched across the operation).
 */
export function eventList(ctx: Context, prefetched: EventRow[], prefetchSize: number, key: EventListKey) {
  const limit = parseInput(limitSchema, key.limit, 'limit');
  if (limit <= prefetched.length || prefetched.length < prefetchSize) return prefetched.slice(0, limit);
  return loadersOf(ctx).eventLists.load({ ...key, limit });
}

export const UserContext = builder.objectRef<UserShape>('UserContext').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    segment: t.string({ nullable: true, resolve: (u) => u.facts.segment }),
    flags: t.field({
      type: [PolicyFlag], description: 'Active USER-scope flags.', resolve: (u) => u.facts.userFlags,
    }),
    recentPurchases: t.field({
      type: [Event],
      args: { limit: t.arg.int({ defaultValue: 10, required: true }) },
      resolve: (u, args, ctx) =>
        eventList(ctx, u.facts.purchases, PREFETCH_PURCHASES, { of: 'purchases', id: u.id, userId: u.id, limit: args.limit }),
    }),
  }),
});
