// Eligibility rules, pure functions of one snapshot's rows.
import { HOLDS, USER_BLOCK, type IneligibleReason } from '../domain.js';
import type { Facts, StateRow } from './decision-sql.js';

export function reasonsFor(state: StateRow, facts: Facts, regionAsked: boolean): IneligibleReason[] {
  const reasons: IneligibleReason[] = [];
  if (state.title === null) reasons.push('UNKNOWN_ITEM');
  else if (state.available === null || state.available - (state.reserved ?? 0) < 1) reasons.push('OUT_OF_STOCK');
  const flags = state.flags ?? [];
  for (const [kind, reason] of HOLDS) if (flags.some((f) => f.kind === kind)) reasons.push(reason);
  if (facts.userFlags.some((f) => f.kind === USER_BLOCK[0] && f.active)) reasons.push(USER_BLOCK[1]);
  if (regionAsked && !deliverable(facts)) reasons.push('NO_DELIVERY');
  return reasons;
}

const deliverability = new WeakMap<Facts, boolean>();
/** The region has a next slot still ahead of the snapshot's clock (a slot gone by is no next slot). Once per decision. */
function deliverable(facts: Facts): boolean {
  let ok = deliverability.get(facts);
  if (ok === undefined) {
    const slot = facts.fulfillment?.nextSlotAt ?? null;
    ok = slot !== null && Date.parse(slot) > Date.parse(facts.readAt);
    deliverability.set(facts, ok);
  }
  return ok;
}
