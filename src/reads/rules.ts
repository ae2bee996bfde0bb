// Eligibility rules, pure functions of one snapshot's rows.
import type { Facts, FlagRow, StateRow } from './decision-sql.js';

export type IneligibleReason =
  'UNKNOWN_ITEM' | 'OUT_OF_STOCK' | 'QUALITY_HOLD' | 'RISK_GATE' | 'USER_FRAUD' | 'NO_DELIVERY';

export function reasonsFor(state: StateRow, facts: Facts, regionAsked: boolean): IneligibleReason[] {
  const reasons: IneligibleReason[] = [];
  if (state.title === null) reasons.push('UNKNOWN_ITEM');
  else if (state.available === null || state.available - (state.reserved ?? 0) < 1) reasons.push('OUT_OF_STOCK');
  const flags = state.flags ?? [];
  if (flags.some((f) => f.kind === 'QUALITY_HOLD')) reasons.push('QUALITY_HOLD');
  if (flags.some((f) => f.kind === 'RISK_GATE')) reasons.push('RISK_GATE');
  if (userIsFraud(facts.userFlags)) reasons.push('USER_FRAUD');
  if (regionAsked && (facts.fulfillment === null || facts.fulfillment.nextSlotAt === null)) reasons.push('NO_DELIVERY');
  return reasons;
}

function userIsFraud(flags: FlagRow[]): boolean {
  return flags.some((f) => f.kind === 'FRAUD' && f.active);
}
