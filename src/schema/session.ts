import { builder } from '../builder.js';
import { PREFETCH_SESSION_EVENTS, type Facts } from '../reads/decision-sql.js';
import { Event, eventsUpTo } from './event.js';

export const Intent = builder.enumType('Intent', {
  values: {
    BROWSING: { description: 'No stronger signal in the last 30 minutes.' },
    CONSIDERING: { description: 'Viewed/clicked one SKU twice, or 3+ SKUs of one category, in the last 30 minutes.' },
    BUYING: { description: 'An ADD_TO_CART or PURCHASE in the last 30 minutes.' },
  } as const,
});

export interface SessionShape { id: string; userId: string; facts: Facts }

export const SessionContext = builder.objectRef<SessionShape>('SessionContext').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    intent: t.field({ type: Intent, resolve: (s) => s.facts.intent ?? 'BROWSING' }),
    lastEventAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.facts.sessionLastEventAt }),
    recentEvents: t.field({
      type: [Event],
      args: { limit: t.arg.int({ defaultValue: 20, required: true }) },
      resolve: (s, args, ctx) =>
        eventsUpTo(ctx, args.limit, s.facts.sessionEvents, PREFETCH_SESSION_EVENTS, { of: 'session', id: s.id, userId: s.userId }),
    }),
  }),
});
