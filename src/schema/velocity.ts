import { builder } from '../builder.js';
import type { Velocity as VelocityShape } from '../reads/decision-sql.js';

export const Velocity = builder.objectRef<VelocityShape>('Velocity').implement({
  description: 'Sums over per-second counters, measured back from the snapshot\'s own clock (readAt).',
  fields: (t) => ({
    salesLast5s: t.exposeInt('salesLast5s', { description: 'Units sold (PURCHASE quantities) in the last 5 s.' }),
    salesLast5m: t.exposeInt('salesLast5m', { description: 'Units sold in the last 5 min.' }),
    clicksLast30s: t.exposeInt('clicksLast30s', { description: 'CLICKs in the last 30 s.' }),
  }),
});

export const NO_VELOCITY: VelocityShape = { salesLast5s: 0, salesLast5m: 0, clicksLast30s: 0 };
