import { builder } from '../builder.js';
import type { ItemRow } from '../reads/catalog.js';
import { describedValues, INELIGIBLE_REASON_DESCRIPTIONS, INELIGIBLE_REASONS, type Flag, type Fulfillment, type IneligibleReason, type Velocity } from '../domain.js';
import type { Facts, StateRow } from '../reads/decision-sql.js';
import { reasonsFor } from '../reads/rules.js';
import { FulfillmentRef } from './fulfillment.js';
import { InventoryRef, type InventoryShape } from './inventory.js';
import { ItemRef } from './item.js';
import { PolicyFlagRef } from './policy.js';
import { PriceRef, type PriceShape } from './price.js';
import { NO_VELOCITY, VelocityRef } from './velocity.js';

export const IneligibleReasonRef = builder.enumType('IneligibleReason', {
  values: describedValues(INELIGIBLE_REASONS, INELIGIBLE_REASON_DESCRIPTIONS),
});

// Built once per candidate from rows of one snapshot; every field is a plain read.
export interface CandidateShape {
  sku: string;
  item: ItemRow | null;
  inventory: InventoryShape | null;
  velocity: Velocity;
  price: PriceShape | null;
  policy: Flag[];
  fulfillment: Fulfillment | null;
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

export const CandidateContextRef = builder.objectRef<CandidateShape>('CandidateContext').implement({
  fields: (t) => ({
    sku: t.exposeID('sku'),
    item: t.expose('item', { type: ItemRef, nullable: true }),
    inventory: t.expose('inventory', { type: InventoryRef, nullable: true }),
    velocity: t.expose('velocity', { type: VelocityRef }),
    price: t.expose('price', { type: PriceRef, nullable: true }),
    policy: t.expose('policy', { type: [PolicyFlagRef], description: 'Active flags on the SKU or its category.' }),
    fulfillment: t.expose('fulfillment', { type: FulfillmentRef, nullable: true }),
    eligible: t.boolean({ resolve: (c) => c.reasons.length === 0 }),
    reasons: t.expose('reasons', { type: [IneligibleReasonRef] }),
  }),
});
