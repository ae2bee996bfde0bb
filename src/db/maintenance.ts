// Background retention: change-log entries past their retention, and velocity
// checkpoints no window can reach any more. Both keep what a reader needs.
import type { Logger } from '../logger.js';
import { pruneChanges } from '../live/changelog.js';
import type { Queryable, Sql } from './client.js';

/**
 * A window reads, per SKU, the newest checkpoint at or before its start; the
 * longest window is 300 s. Keep everything newer than that, plus the newest
 * row before it (60 s of margin for readers whose clock started earlier).
 */
export async function pruneVelocity(db: Queryable): Promise<number> {
  const rows = await db`
    delete from velocity_seconds v
    using (select sku, max(sec) as keep from velocity_seconds
           where sec <= floor(extract(epoch from now()))::bigint - 360 group by sku) k
    where v.sku = k.sku and v.sec < k.keep
    returning 1`;
  return rows.length;
}

export function startMaintenance(sql: Sql, everySeconds: number, retentionSeconds: number, logger: Logger): () => void {
  if (everySeconds <= 0) return () => {};
  const timer = setInterval(() => {
    Promise.all([pruneChanges(sql, retentionSeconds), pruneVelocity(sql)])
      .then(([changes, checkpoints]) => {
        if (changes || checkpoints) logger.debug({ changes, checkpoints }, 'pruned');
      })
      .catch((err) => logger.warn({ err }, 'pruning failed; retrying at the next interval'));
  }, everySeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
