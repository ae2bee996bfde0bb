import { builder } from '../builder.js';
import type { ItemRow } from '../reads/catalog.js';
import type { Facts, FlagRow, FulfillmentRow, StateRow, Velocity } from '../reads/decision-sql.js';
import { reasonsFor, type IneligibleReason } from '../reads/rules.js';
import { Fulfillment } from './fulfillment.js';
import { Inventory, type InventoryShape } from './inventory.js';
import { Item } from './item.js';
import { PolicyFlag } from './policy.js';
import { Price, type PriceShape } from './price.js';
import { NO_VELOCITY, VelocityRef } from './velocity.js';

export const IneligibleReasonRef = builder.enumType('IneligibleReason', {
  values: ['UNKNOWN_ITEM', 'OUT_OF_STOCK', 'QUALITY_HOLD', 'RISK_GATE', 'USER_FRAUD', 'NO_DELIVERY'] as const,
});

// Built once per candidate from rows of one snapshot; every field is a plain read.
export interface CandidateShape {
  sku: string;
  item: ItemRow | null;
  inventory: InventoryShape | null;
  velocity: Velocity;
  price: PriceShape | null;
  policy: FlagRow[];
  fulfillment: FulfillmentRow | null;
  reasons: IneligibleReason[];
}

export function toCandidate(s: StateRow, facts: Facts, regionAsked: boolean): CandidateShape {
  const known = s.title !== null;
  return {
    sku: s.sku,
    item: known ? { sku: s.sku, title: s.title!, category: s.category! } : null,
    inventory: known && s.available !== null
      ? { available: s.available, reserved: s.reserved!, updatedAt: s.inventoryUpdatedAt! } : null,
    velocity: s.velocity ?? NO_VELOCITY,
    price: known && s.amountMinor !== null
      ? { amountMinor: s.amountMinor, currency: s.currency!, listAmountMinor: s.listAmountMinor!, updatedAt: s.priceUpdatedAt! }
      : null,
    policy: s.flags ?? [],
    fulfillment: facts.fulfillment,
    reasons: reasonsFor(s, facts, regionAsked),
  };
}

export const CandidateContext = builder.objectRef<CandidateShape>('CandidateContext').implement({
  fields: (t) => ({
    sku: t.exposeID('sku'),
    item: t.expose('item', { type: Item, nullable: true }),
    inventory: t.expose('inventory', { type: Inventory, nullable: true }),
    velocity: t.expose('velocity', { type: VelocityRef }),
    price: t.expose('price', { type: Price, nullable: true }),
    policy: t.expose('policy', { type: [PolicyFlag], description: 'Active flags on the SKU or its category.' }),
    fulfillment: t.expose('fulfillment', { type: Fulfillment, nullable: true }),
    eligible: t.boolean({ resolve: (c) => c.reasons.length === 0 }),
    reasons: t.expose('reasons', { type: [IneligibleReasonRef] }),
  }),
});
