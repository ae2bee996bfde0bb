import { canSeeUserFlags } from '../auth/roles.js';
import { builder } from '../builder.js';
import { PREFETCH_PURCHASES, type Facts } from '../reads/decision-sql.js';
import { EventRef, eventsUpTo } from './event.js';
import { PolicyFlagRef } from './policy.js';

export interface UserShape { id: string; facts: Facts }

export const UserContextRef = builder.objectRef<UserShape>('UserContext').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    segment: t.string({ nullable: true, resolve: (u) => u.facts.segment }),
    flags: t.field({
      type: [PolicyFlagRef],
      description: 'Active USER-scope flags. Their free-text reasons reach admin keys only (null for others).',
      resolve: (u, _, ctx) => (canSeeUserFlags(ctx.principal) ? u.facts.userFlags : u.facts.userFlags.map((f) => ({ ...f, reason: null }))),
    }),
    recentPurchases: t.field({
      type: [EventRef],
      args: { limit: t.arg.int({ defaultValue: 10, required: true }) },
      resolve: (u, args, ctx) =>
        eventsUpTo(ctx, args.limit, u.facts.purchases, PREFETCH_PURCHASES, { of: 'purchases', id: u.id, userId: u.id }),
    }),
  }),
});
