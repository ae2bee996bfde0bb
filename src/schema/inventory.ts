import { z } from 'zod';
import { builder } from '../builder.js';
import { parseInput } from '../errors.js';
import { setInventory, type StockLevel } from '../writes/items.js';
import { id, MAX_STOCK, stock } from './inputs.js';

export interface InventoryShape { available: number; reserved: number; updatedAt: string }

export const InventoryRef = builder.objectRef<InventoryShape>('Inventory').implement({
  fields: (t) => ({
    available: t.exposeInt('available', { description: 'Units on hand.' }),
    reserved: t.exposeInt('reserved', { description: 'Units held for carts/orders; sellable = available − reserved.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const StockLevelRef = builder.objectRef<StockLevel>('StockLevel').implement({
  description: 'A SKU\'s stock after a write.',
  fields: (t) => ({
    sku: t.exposeID('sku'),
    available: t.exposeInt('available'),
    reserved: t.exposeInt('reserved'),
    previous: t.exposeInt('previous', { nullable: true, description: 'available before the write (null for a new SKU).' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

// reserved ≤ available needs the stored reserved when it is omitted: writes/items.ts checks it.
const args = z.object({ sku: id, available: stock, reserved: stock.nullable() });

builder.mutationField('setInventory', (t) => t.field({
  type: StockLevelRef,
  description: 'Set a SKU\'s stock level (reserved is kept when omitted).',
  args: {
    sku: t.arg.id({ required: true }),
    available: t.arg.int({ required: true, description: `Units on hand, at most ${MAX_STOCK}.` }),
    reserved: t.arg.int({ description: 'Units held; never above available.' }),
  },
  resolve: async (_, raw, ctx) => {
    const a = parseInput(args, { sku: raw.sku, available: raw.available, reserved: raw.reserved ?? null }, '');
    return setInventory(ctx.sql, a.sku, a.available, a.reserved);
  },
}));
