import { builder } from '../builder.js';
import type { Velocity } from '../domain.js';

const CEILING = 'At most 2147483647 (the largest Int): a window holding more reads 2147483647.';

export const VelocityRef = builder.objectRef<Velocity>('Velocity').implement({
  description: 'Sums over fixed time slots, measured back from the snapshot\'s own clock (readAt). A window counts the '
    + 'slots that overlap it: every unit at most the window\'s length old counts; one older than that by less than a slot '
    + 'may (it does once readAt is far enough into its own slot); none older.',
  fields: (t) => ({
    salesLast5s: t.exposeInt('salesLast5s', {
      description: 'Units sold (PURCHASE quantities) in the last 5 s, in 100 ms slots: a sale counts while its age '
        + `is at most 5.0 s, may still count under 5.1 s, never at 5.1 s or more. ${CEILING}`,
    }),
    salesLast5m: t.exposeInt('salesLast5m', {
      description: 'Units sold in the last 5 min, in 1 s slots: a sale counts while its age is at most 300 s, may '
        + `still count under 301 s, never at 301 s or more. ${CEILING}`,
    }),
    clicksLast30s: t.exposeInt('clicksLast30s', {
      description: 'CLICK quantities in the last 30 s, in 100 ms slots: a click counts while its age is at most '
        + `30.0 s, may still count under 30.1 s, never at 30.1 s or more. ${CEILING}`,
    }),
  }),
});

export const NO_VELOCITY: Velocity = { salesLast5s: 0, salesLast5m: 0, clicksLast30s: 0 };
