// Change-log retention, in the background: every CHANGE_LOG_PRUNE_S, entries
// older than CHANGE_LOG_RETENTION_S go (pruneChanges records how far, so an
// older cursor gets CURSOR_EXPIRED). Velocity needs no retention: its rings are fixed-size.
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { pruneChanges } from './changelog.js';

/** Starts the prune timer; returns its stop. */
export function startRetention(sql: Sql, everySeconds: number, retentionSeconds: number, logger: Logger): () => void {
  if (everySeconds <= 0) return () => {};
  const timer = setInterval(() => {
    pruneChanges(sql, retentionSeconds)
      .then((changes) => {
        if (changes) logger.debug({ changes }, 'pruned');
      })
      .catch((err) => logger.warn({ err }, 'pruning failed; retrying at the next interval'));
  }, everySeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
