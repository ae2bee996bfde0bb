import { z } from 'zod';
import { builder } from '../builder.js';
import { badInput, parseInput } from '../errors.js';
import { readCatalog, type ItemRow } from '../reads/catalog.js';
import { loadersOf } from '../reads/snapshot.js';
import { upsertItems, type StockLevel } from '../writes/items.js';
import { currency, id, MAX_ITEMS, MAX_PRICE_MINOR, MAX_STOCK, plain, priceMinor, stock, text } from './inputs.js';
import { StockLevelRef } from './inventory.js';

export const ItemRef = builder.objectRef<ItemRow>('Item').implement({
  fields: (t) => ({
    sku: t.exposeID('sku'),
    title: t.exposeString('title'),
    category: t.exposeString('category'),
  }),
});

const ItemInputRef = builder.inputType('ItemInput', {
  fields: (t) => ({
    sku: t.id({ required: true }),
    title: t.string({ required: true }),
    category: t.string({ required: true }),
    priceMinor: t.int({ required: true, description: `Price in minor units (cents), at most ${MAX_PRICE_MINOR}; also becomes the list price.` }),
    currency: t.string({ required: true, description: 'ISO 4217 code, 3 capital letters.' }),
    available: t.int({
      required: true, description: `Units on hand, at most ${MAX_STOCK} and not below the SKU's reserved units; replaces the current level.`,
    }),
  }),
});

const itemSchema = z.object({
  sku: id, title: text(500), category: text(200), priceMinor, currency, available: stock,
});

const UpsertItemsPayloadRef = builder.objectRef<{ count: number; stockChanges: StockLevel[] }>('UpsertItemsPayload')
  .implement({
    fields: (t) => ({
      count: t.exposeInt('count', { description: 'Items written.' }),
      stockChanges: t.expose('stockChanges', { type: [StockLevelRef], description: 'SKUs whose available stock changed.' }),
    }),
  });

builder.mutationField('upsertItems', (t) => t.field({
  type: UpsertItemsPayloadRef,
  description: `Create or update items with their price and stock level, atomically (at most ${MAX_ITEMS}).`,
  args: { items: t.arg({ type: [ItemInputRef], required: true }) },
  resolve: async (_, args, ctx) => {
    if (args.items.length > MAX_ITEMS) throw badInput(`items: at most ${MAX_ITEMS} per call`, 'items');
    const items = args.items.map((it, i) => parseInput(itemSchema, it, `items.${i}`));
    const seen = new Set<string>();
    for (const it of items) {
      if (seen.has(it.sku)) throw badInput(`items: SKU "${it.sku}" appears more than once`, 'items');
      seen.add(it.sku);
    }
    return { count: items.length, stockChanges: await upsertItems(ctx.sql, items) };
  },
}));

const catalogArgs = z.object({
  search: plain(200).nullable(),
  category: plain(200).nullable(),
  limit: z.number().int().min(0).max(1000, 'must be at most 1000'),
});

builder.queryField('catalog', (t) => t.field({
  type: [ItemRef],
  description: 'Items by SKU, filtered by a case-insensitive search on SKU or title and by category (for boards and tools).',
  args: {
    search: t.arg.string(),
    category: t.arg.string(),
    limit: t.arg.int({ defaultValue: 200, required: true }),
  },
  resolve: async (_, raw, ctx) => {
    const filter = parseInput(catalogArgs, { search: raw.search ?? null, category: raw.category ?? null, limit: raw.limit }, '');
    return readCatalog(loadersOf(ctx).db, filter);
  },
}));
