// Policy flags (fraud, quality hold, risk gate) and delivery slots.
import type { Sql } from '../db/client.js';
import type { Flag, Fulfillment } from '../domain.js';
import { appendChanges } from '../live/changelog.js';
import { inWriteTx, lockedAt } from './tx.js';

export interface FlagWrite { flag: Flag; flipped: boolean }

export async function setPolicyFlag(
  sql: Sql, scope: Flag['scope'], target: string, kind: Flag['kind'], active: boolean, reason: string | null,
): Promise<FlagWrite> {
  return inWriteTx(sql, async (tx) => {
    // A key never written has no row to lock, so two first writes would both read "no flag" and
    // one flip would be logged wrong or not at all. Create the row inactive first (a concurrent
    // first write waits on it), then read the state before this write under the row lock.
    await tx`insert into policy_flags (scope, target, kind, active, reason)
             values (${scope}, ${target}, ${kind}, false, null) on conflict do nothing`;
    const [[prev], clock] = await lockedAt(tx, tx<{ active: boolean }[]>`
      select active from policy_flags where scope = ${scope} and target = ${target} and kind = ${kind} for update`);
    // changedAt moves when the flag or its reason changes; a repeat of the same state is a no-op.
    const [flag] = await tx<Flag[]>`
      update policy_flags f set active = ${active}, reason = ${reason},
        changed_at = case when (f.active, f.reason) is distinct from (${active}::boolean, ${reason}::text)
                          then ${clock.at}::timestamptz else f.changed_at end
      where scope = ${scope} and target = ${target} and kind = ${kind}
      returning scope, target, kind, active, reason, changed_at as "changedAt"`;
    const flipped = prev!.active !== active;
    if (flipped) await appendChanges(tx, [{ topic: 'policy', key: scope, payload: { flag: flag! } }]);
    return { flag: flag!, flipped };
  });
}

export async function setFulfillment(
  sql: Sql, region: string, nextSlotAt: Date | null, congestion: number, latencyMinutes: number | null,
): Promise<Fulfillment> {
  return inWriteTx(sql, async (tx) => {
    const [row] = await tx<Fulfillment[]>`
      insert into fulfillment as f (region, next_slot_at, congestion, latency_minutes)
      values (${region}, ${nextSlotAt}, ${congestion}, coalesce(${latencyMinutes}::int, 0))
      on conflict (region) do update set next_slot_at = excluded.next_slot_at, congestion = excluded.congestion,
        latency_minutes = coalesce(${latencyMinutes}::int, f.latency_minutes), updated_at = now()
      returning region, next_slot_at as "nextSlotAt", congestion, latency_minutes as "latencyMinutes"`;
    return row!;
  });
}
