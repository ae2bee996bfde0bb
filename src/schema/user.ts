import { builder } from '../builder.js';
import { PREFETCH_PURCHASES, type Facts } from '../reads/decision-sql.js';
import { Event, eventsUpTo } from './event.js';
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
      resolve: (u, args, ctx) =>
        eventsUpTo(ctx, args.limit, u.facts.purchases, PREFETCH_PURCHASES, { of: 'purchases', id: u.id, userId: u.id }),
    }),
  }),
});
