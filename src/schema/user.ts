import { builder } from '../builder.js';
import { parseInput } from '../errors.js';
import { PREFETCH_PURCHASES, type Facts } from '../reads/decision-sql.js';
import { eventList } from '../reads/loaders.js';
import { loadersOf } from '../reads/snapshot.js';
import { Event } from './event.js';
import { limit as limitSchema } from './inputs.js';
import { PolicyFlag } from './policy.js';

export interface UserShape { id: string; facts: Facts }

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
      resolve: (u, args, ctx) => {
        const limit = parseInput(limitSchema, args.limit, 'limit');
        return eventList(loadersOf(ctx), u.facts.purchases, PREFETCH_PURCHASES, { of: 'purchases', id: u.id, userId: u.id, limit });
      },
    }),
  }),
});
