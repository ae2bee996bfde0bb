import { builder } from '../builder.js';
import { describedValues, INTENT_DESCRIPTIONS, INTENTS } from '../domain.js';
import { PREFETCH_SESSION_EVENTS, type Facts } from '../reads/decision-sql.js';
import { EventRef, eventsUpTo } from './event.js';

export const IntentRef = builder.enumType('Intent', {
  values: describedValues(INTENTS, INTENT_DESCRIPTIONS),
});

export interface SessionShape { id: string; userId: string; facts: Facts }

export const SessionContextRef = builder.objectRef<SessionShape>('SessionContext').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    intent: t.field({ type: IntentRef, resolve: (s) => s.facts.intent ?? 'BROWSING' }),
    lastEventAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.facts.sessionLastEventAt }),
    recentEvents: t.field({
      type: [EventRef],
      args: { limit: t.arg.int({ defaultValue: 20, required: true }) },
      resolve: (s, args, ctx) =>
        eventsUpTo(ctx, args.limit, s.facts.sessionEvents, PREFETCH_SESSION_EVENTS, { of: 'session', id: s.id, userId: s.userId }),
    }),
  }),
});
