// Background retention of the change log: entries past their retention go,
// and how far is recorded so an older cursor gets CURSOR_EXPIRED. (Velocity
// needs no retention: its rings are fixed-size.)
import type { Logger } from '../logger.js';
import { pruneChanges } from '../live/changelog.js';
import type { Sql } from './client.js';

export function startMaintenance(sql: Sql, everySeconds: number, retentionSeconds: number, logger: Logger): () => void {
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
