// Shared by the decision log tests: a gateway with a log of its own, the logged decision query, a row once written.
import { inject } from 'vitest';
import { createSql, type Sql } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { DecisionLog, type DecisionLogOptions } from '../src/log/decision-log.js';
import { CANDIDATE_FIELDS, testGateway, type TestGateway } from './helpers.js';

export interface Logged { gw: TestGateway; log: DecisionLog; sql: Sql; close(): Promise<void> }

/** A gateway (yoga fetch, the run's database) with a decision log of its own. */
export function loggedGateway(opts: Partial<DecisionLogOptions> = {}, gwOpts: Parameters<typeof testGateway>[0] = {}): Logged {
  const sql = createSql(gwOpts.url ?? inject('databaseUrl'), { poolMax: 2, connectTimeoutSeconds: 2, statementTimeoutMs: 5000 });
  const log = new DecisionLog({ sql, logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), sample: 0, queueRows: 100_000, flushMs: 100, batchRows: 10_000, ...opts });
  log.start();
  const gw = testGateway({ ...gwOpts, decisionLog: log });
  return { gw, log, sql, async close() { await log.stop(); await gw.close(); await sql.end(); } };
}

export const LOGGED_DECISION = `query($u: ID!, $s: ID, $c: [ID!]!, $r: String, $log: Boolean) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c, region: $r, log: $log) {
    decisionId logged
    snapshot { id readAt cursor source lagMs }
    user { id segment flags { scope target kind active reason changedAt } recentPurchases { kind sku quantity at } }
    session { id intent lastEventAt recentEvents { kind sku quantity at } }
    ${CANDIDATE_FIELDS}
  }
}`;

/** The decision's row, once written (the log writes within its flush interval; settle waits for this process's queue). */
export async function rowOf(l: Logged, decisionId: string): Promise<any> {
  await l.log.settle([decisionId]);
  const [row] = await l.sql`select * from decision_log where decision_id = ${decisionId}`;
  return row;
}

