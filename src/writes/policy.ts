// Policy flags (fraud, quality hold, risk gate) and delivery slots.
import type { Sql } from '../db/client.js';
import type { FlagRow, FulfillmentRow } from '../reads/decision-sql.js';
import { appendChanges } from '../live/changelog.js';
import { inWriteTx } from './tx.js';

export interface FlagWrite { flag: FlagRow; flipped: boolean }

export async function setPolicyFlag(
  sql: Sql, scope: FlagRow['scope'], target: string, kind: FlagRow['kind'], active: boolean, reason: string | null,
): Promise<FlagWrite> {
  return inWriteTx(sql, async (tx) => {
    const [prev] = await tx<{ active: boolean }[]>`
      select active from policy_flags where scope = ${scope} and target = ${target} and kind = ${kind} for update`;
    // changedAt moves when the flag or its reason changes; a repeat of the same state is a no-op.
    const [flag] = await tx<FlagRow[]>`
      insert into policy_flags as f (scope, target, kind, active, reason)
      values (${scope}, ${target}, ${kind}, ${active}, ${reason})
      on conflict (scope, target, kind) do update set active = excluded.active, reason = excluded.reason,
        changed_at = case when (f.active, f.reason) is distinct from (excluded.active, excluded.reason)
                          then now() else f.changed_at end
      returning scope, target, kind, active, reason, changed_at as "changedAt"`;
    const flipped = (prev?.active ?? false) !== active;
    if (flipped) await appendChanges(tx, [{ topic: 'policy', key: scope, payload: { flag: flag! } }]);
    return { flag: flag!, flipped };
  });
}

export async function setFulfillment(
  sql: Sql, region: string, nextSlotAt: Date | null, congestion: number, latencyMinutes: number | null,
): Promise<FulfillmentRow> {
  return inWriteTx(sql, async (tx) => {
    const [row] = await tx<FulfillmentRow[]>`
      insert into fulfillment as f (region, next_slot_at, congestion, latency_minutes)
      values (${region}, ${nextSlotAt}, ${congestion}, coalesce(${latencyMinutes}::int, 0))
      on conflict (region) do update set next_slot_at = excluded.next_slot_at, congestion = excluded.congestion,
        latency_minutes = coalesce(${latencyMinutes}::int, f.latency_minutes), updated_at = now()
      returning region, next_slot_at as "nextSlotAt", congestion, latency_minutes as "latencyMinutes"`;
    return row!;
  });
}
