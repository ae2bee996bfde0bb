// The decision log's partitions, in the background: at start and every hour,
// today's and the next two days' partitions are created (so a batch never waits
// on DDL), and every partition wholly older than DECISION_LOG_RETENTION_DAYS is
// dropped (a DROP TABLE: no row-by-row delete, no vacuum debt).
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { dropPartitionsBefore, ensurePartitions } from '../writes/decision-log.js';

const DAY_MS = 86_400_000;
export const AHEAD_DAYS = 3;
const EVERY_MS = 3_600_000;

/** One pass: partitions ahead, old ones dropped. `now` is injectable for tests. */
export async function maintainDecisionLog(sql: Sql, retentionDays: number, now = Date.now()): Promise<{ made: string[]; dropped: string[] }> {
  const made = await ensurePartitions(sql, now, AHEAD_DAYS);
  const dropped = await dropPartitionsBefore(sql, now - retentionDays * DAY_MS);
  return { made, dropped };
}

/** Runs a pass now and every hour; returns its stop. */
export function startDecisionLogRetention(sql: Sql, retentionDays: number, logger: Logger, onDropped?: () => void): () => void {
  const pass = () => maintainDecisionLog(sql, retentionDays)
    .then(({ made, dropped }) => {
      if (made.length || dropped.length) logger.info({ made, dropped }, 'decision log partitions');
      if (dropped.length) onDropped?.();
    })
    .catch((err) => logger.warn({ err }, 'decision log partition upkeep failed; retrying within the hour'));
  void pass();
  const timer = setInterval(() => void pass(), EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
