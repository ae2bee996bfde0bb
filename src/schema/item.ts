import { z } from 'zod';
import { builder } from '../builder.js';
import { badInput, parseInput } from '../errors.js';
import { upsertItems, type StockLevel as StockLevelShape } from '../writes/items.js';
import { currency, id, MAX_ITEMS, nonNegative, text } from './inputs.js';
import { StockLevel } from './inventory.js';

export interface ItemShape { sku: string; title: string; category: string }

export const Item = builder.objectRef<ItemShape>('Item').implement({
  fields: (t) => ({
    sku: t.exposeID('sku'),
    title: t.exposeString('title'),
    category: t.exposeString('category'),
  }),
});

const ItemInput = builder.inputType('ItemInput', {
  fields: (t) => ({
    sku: t.id({ required: true }),
    title: t.string({ required: true }),
    category: t.string({ required: true }),
    priceMinor: t.int({ required: true, description: 'Price in minor units (cents); also becomes the list price.' }),
    currency: t.string({ required: true, description: 'ISO 4217 code, 3 capital letters.' }),
    available: t.int({ required: true, description: 'Units on hand; replaces the current level.' }),
  }),
});

const itemSchema = z.object({
  sku: id, title: text(500), category: text(200), priceMinor: nonNegative, currency, available: nonNegative,
});

const UpsertItemsPayload = builder.objectRef<{ count: number; stockChanges: StockLevelShape[] }>('UpsertItemsPayload')
  .implement({
    fields: (t) => ({
      count: t.exposeInt('count', { description: 'Items written.' }),
      stockChanges: t.expose('stockChanges', { type: [StockLevel], description: 'SKUs whose available stock changed.' }),
    }),
  });

builder.mutationField('upsertItems', (t) => t.field({
  type: UpsertItemsPayload,
  description: `Create or update items with their price and stock level, atomically (at most ${MAX_ITEMS}).`,
  args: { items: t.arg({ type: [ItemInput], required: true }) },
  resolve: async (_, args, ctx) => {
    if (args.items.length > MAX_ITEMS) throw badInput(`items: at most ${MAX_ITEMS} per call`, 'items');
    const items = args.items.map((it, i) => parseInput(itemSchema, { ...it, sku: String(it.sku) }, `items.${i}`));
    const seen = new Set<string>();
    for (const it of items) {
      if (seen.has(it.sku)) throw badInput(`items: SKU "${it.sku}" appears more than once`, 'items');
      seen.add(it.sku);
    }
    return { count: items.length, stockChanges: await upsertItems(ctx.sql, items) };
  },
}));
