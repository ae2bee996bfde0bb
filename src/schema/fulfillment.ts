import { z } from 'zod';
import { builder } from '../builder.js';
import { parseInput } from '../errors.js';
import type { Fulfillment } from '../domain.js';
import { setFulfillment } from '../writes/policy.js';
import { id, MAX_LATENCY_MINUTES, upTo } from './inputs.js';

export const FulfillmentRef = builder.objectRef<Fulfillment>('Fulfillment').implement({
  fields: (t) => ({
    region: t.exposeString('region'),
    nextSlotAt: t.expose('nextSlotAt', { type: 'DateTime', nullable: true, description: 'Null: no delivery slot.' }),
    congestion: t.exposeFloat('congestion', { description: '0 (idle) to 1 (saturated).' }),
    latencyMinutes: t.exposeInt('latencyMinutes'),
  }),
});

const args = z.object({
  region: id,
  // Stored as real: a value too small for one (e.g. 1e-50) is 0 there, and Postgres
  // refuses it rather than round (22003), so round it here. NaN/Infinity fail z.number().
  congestion: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1')
    .transform((c) => (Math.fround(c) === 0 ? 0 : c)),
  latencyMinutes: upTo(MAX_LATENCY_MINUTES).nullable(),
});

builder.mutationField('setFulfillment', (t) => t.field({
  type: FulfillmentRef,
  description: 'Set a region\'s next delivery slot (null: no delivery) and congestion.',
  args: {
    region: t.arg.string({ required: true }),
    nextSlotAt: t.arg({ type: 'DateTime' }),
    congestion: t.arg.float({ required: true }),
    latencyMinutes: t.arg.int({ description: `At most ${MAX_LATENCY_MINUTES} (30 days).` }),
  },
  resolve: async (_, raw, ctx) => {
    const a = parseInput(args, { region: raw.region, congestion: raw.congestion, latencyMinutes: raw.latencyMinutes ?? null }, '');
    return setFulfillment(ctx.sql, a.region, raw.nextSlotAt ?? null, a.congestion, a.latencyMinutes);
  },
}));
