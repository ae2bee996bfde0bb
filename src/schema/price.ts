import { z } from 'zod';
import { builder } from '../builder.js';
import { parseInput } from '../errors.js';
import { setPrice, type PriceRow } from '../writes/items.js';
import { currency, id, MAX_PRICE_MINOR, priceMinor } from './inputs.js';

export type PriceShape = Omit<PriceRow, 'sku'>;

export const PriceRef = builder.objectRef<PriceShape>('Price').implement({
  fields: (t) => ({
    amountMinor: t.exposeInt('amountMinor', { description: 'Selling price in minor units.' }),
    currency: t.exposeString('currency'),
    listAmountMinor: t.exposeInt('listAmountMinor', { description: 'List (reference) price in minor units.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SetPricePayloadRef = builder.objectRef<PriceRow>('SetPricePayload').implement({
  fields: (t) => ({
    sku: t.exposeID('sku'),
    price: t.field({ type: PriceRef, resolve: (p) => p }),
  }),
});

const args = z.object({ sku: id, amountMinor: priceMinor, currency });

builder.mutationField('setPrice', (t) => t.field({
  type: SetPricePayloadRef,
  description: 'Set the selling price. The list price is kept unless the currency changes.',
  args: {
    sku: t.arg.id({ required: true }),
    amountMinor: t.arg.int({ required: true, description: `Minor units, at most ${MAX_PRICE_MINOR}.` }),
    currency: t.arg.string({ required: true }),
  },
  resolve: async (_, raw, ctx) => {
    const a = parseInput(args, raw, '');
    return setPrice(ctx.sql, a.sku, a.amountMinor, a.currency);
  },
}));
