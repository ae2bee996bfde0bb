// The domain's vocabulary, defined once. The GraphQL enums (schema/), the
// input validation (zod) and the TS types all derive from these tuples; the
// descriptions are typed by them, so a new value does not compile until it is
// described. The rules that give a value meaning (reads/rules.ts, the facts
// statement, the writes) are the other places a new value must be handled.

/** Session events recordEvents accepts. */
export const EVENT_KINDS = ['VIEW', 'CLICK', 'ADD_TO_CART', 'PURCHASE'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
export const EVENT_KIND_DESCRIPTIONS: Record<EventKind, string> = {
  VIEW: 'A page or item view (sku optional: a home page has none).',
  CLICK: 'A click on an item: counts toward clicksLast30s.',
  ADD_TO_CART: 'An item put in the cart (does not reserve stock).',
  PURCHASE: 'A purchase: takes stock and counts as a sale, in the same transaction.',
};
/** Kinds that need a sku. */
export const SKU_EVENT_KINDS: readonly EventKind[] = ['CLICK', 'ADD_TO_CART', 'PURCHASE'];
/** Kinds that move a SKU's velocity counters, and which counter. */
export const SALE_KIND: EventKind = 'PURCHASE';
export const CLICK_KIND: EventKind = 'CLICK';

/** A session's intent over the last 30 minutes (the facts statement computes it). */
export const INTENTS = ['BROWSING', 'CONSIDERING', 'BUYING'] as const;
export type Intent = (typeof INTENTS)[number];
/** Events that make a session BUYING, and the ones that count as interest toward CONSIDERING. */
export const BUYING_KINDS: readonly EventKind[] = ['ADD_TO_CART', 'PURCHASE'];
export const INTEREST_KINDS: readonly EventKind[] = ['VIEW', 'CLICK'];
export const INTENT_DESCRIPTIONS: Record<Intent, string> = {
  BROWSING: 'No stronger signal in the last 30 minutes.',
  CONSIDERING: `${INTEREST_KINDS.join(' or ')} events on one SKU at least twice, or on 3+ SKUs of one category, in the last 30 minutes.`,
  BUYING: `An ${BUYING_KINDS.join(' or ')} in the last 30 minutes.`,
};

/** What a policy flag is set on. */
export const POLICY_SCOPES = ['USER', 'SKU', 'CATEGORY'] as const;
export type PolicyScope = (typeof POLICY_SCOPES)[number];
/** USER-scope flags name a person and carry free-text fraud reasons: admin keys only. */
export const PRIVATE_SCOPE: PolicyScope = 'USER';

export const POLICY_KINDS = ['FRAUD', 'QUALITY_HOLD', 'RISK_GATE'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];
export const POLICY_KIND_DESCRIPTIONS: Record<PolicyKind, string> = {
  FRAUD: 'On a user: every candidate of that user is ineligible (USER_FRAUD).',
  QUALITY_HOLD: 'On a SKU or its category: the SKU is ineligible (QUALITY_HOLD).',
  RISK_GATE: 'On a SKU or its category: the SKU is ineligible (RISK_GATE).',
};

/** Flag kinds that hold a SKU (set on it or on its category), each with the reason it gives, in the order reasons list them. */
export const HOLDS = [['QUALITY_HOLD', 'QUALITY_HOLD'], ['RISK_GATE', 'RISK_GATE']] as const satisfies readonly (readonly [PolicyKind, IneligibleReason])[];
/** The USER-scope kind that makes every candidate of its user ineligible. */
export const USER_BLOCK: readonly [PolicyKind, IneligibleReason] = ['FRAUD', 'USER_FRAUD'];
/** The scopes a kind has an effect on (the rules above); a flag of any other pair is refused, not stored to do nothing. */
export const POLICY_KIND_SCOPES: Record<PolicyKind, readonly PolicyScope[]> = {
  FRAUD: ['USER'], QUALITY_HOLD: ['SKU', 'CATEGORY'], RISK_GATE: ['SKU', 'CATEGORY'],
};

/** Why a candidate is not eligible (reads/rules.ts decides each). */
export const INELIGIBLE_REASONS = ['UNKNOWN_ITEM', 'OUT_OF_STOCK', 'QUALITY_HOLD', 'RISK_GATE', 'USER_FRAUD', 'NO_DELIVERY'] as const;
export type IneligibleReason = (typeof INELIGIBLE_REASONS)[number];
export const INELIGIBLE_REASON_DESCRIPTIONS: Record<IneligibleReason, string> = {
  UNKNOWN_ITEM: 'No such SKU (item, inventory and price are null).',
  OUT_OF_STOCK: 'available − reserved < 1.',
  QUALITY_HOLD: 'An active QUALITY_HOLD flag on the SKU or its category.',
  RISK_GATE: 'An active RISK_GATE flag on the SKU or its category.',
  USER_FRAUD: 'An active USER-scope FRAUD flag on the user (every candidate).',
  NO_DELIVERY: 'A region was asked and it has no fulfillment row, or no next slot ahead of the snapshot\'s clock (none set, or one already past).',
};

/** Which write moved a SKU's stock, as the feed reports it. */
export const INVENTORY_CAUSES = ['PURCHASE', 'SET_INVENTORY', 'UPSERT'] as const;
export type InventoryCause = (typeof INVENTORY_CAUSES)[number];
export const INVENTORY_CAUSE_DESCRIPTIONS: Record<InventoryCause, string> = {
  PURCHASE: 'recordEvents: a purchase took stock (a sale).',
  SET_INVENTORY: 'setInventory: a stock count or correction.',
  UPSERT: 'upsertItems: a catalog load.',
};

// Rows as the reads return them (JSON from Postgres: timestamps as strings).
export interface Flag {
  scope: PolicyScope;
  target: string;
  kind: PolicyKind;
  active: boolean;
  reason: string | null;
  changedAt: string;
}

export interface Event {
  kind: EventKind;
  sku: string | null;
  quantity: number;
  at: string;
}

export interface Fulfillment {
  region: string;
  nextSlotAt: string | null;
  congestion: number;
  latencyMinutes: number;
}

/**
 * Units in the slots that overlap the window ending at now() (the slot holding
 * now() − window through the newest): every unit at most the window's length
 * old counts, one up to a slot longer may, none older. Slots: 100 ms for the
 * 5 s and 30 s windows, 1 s for 5 min. Each saturates at 2^31−1.
 */
export interface Velocity { salesLast5s: number; salesLast5m: number; clicksLast30s: number }

/** Pothos enum values with descriptions, from a tuple and its description table. */
export function describedValues<V extends string>(values: readonly V[], descriptions: Record<V, string>) {
  return Object.fromEntries(values.map((v) => [v, { description: descriptions[v] }])) as Record<V, { description: string }>;
}
