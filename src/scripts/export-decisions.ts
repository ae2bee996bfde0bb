// `npm run export:decisions -- --since 2026-11-26T00:00:00Z [--until …] [--format jsonl|csv|parquet] [--out file]`:
// every logged (decision, candidate) read in [since, until) with its outcome counts, streamed to stdout
// or a file. Works against DATABASE_URL or the embedded database (a running gateway's, if one is up).
// `until` defaults to a settled instant: rows reach the log a little after their decision (the writer's
// flush, its statement, another worker's batch), so a window ending now could miss rows that land later.
// The next export from `--since <this until>` then continues with no gap and no duplicate.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { openForScript } from '../db/database.js';
import { LOG_WRITE_GRACE_MS } from '../log/decision-log.js';
import { exportDecisions, FORMATS, type ExportFormat } from '../log/export.js';
import { createLogger } from '../logger.js';

const usage = `usage: npm run export:decisions -- --since <ISO time> [--until <ISO time>] [--format ${FORMATS.join('|')}] [--out <file>] [--window-s <seconds>]`;
let values: { since?: string; until?: string; format?: string; out?: string; 'window-s'?: string };
try {
  ({ values } = parseArgs({
    options: { since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string', default: 'jsonl' }, out: { type: 'string' }, 'window-s': { type: 'string' } },
  }));
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
const since = values.since && !Number.isNaN(Date.parse(values.since)) ? new Date(values.since).toISOString() : undefined;
const format = values.format as ExportFormat;
const untilArg = values.until === undefined ? undefined : Date.parse(values.until);
const windowArg = values['window-s'] === undefined ? undefined : Number(values['window-s']);
if (!since || !FORMATS.includes(format) || (windowArg !== undefined && !(Number.isInteger(windowArg) && windowArg > 0))
  || (untilArg !== undefined && Number.isNaN(untilArg))) {
  console.error(usage);
  process.exit(2);
}
const config = loadConfig();
// Settled: older than the writer's flush, its statement and the cross-worker grace together.
const settledMs = config.decisionLogFlushMs + config.statementTimeoutMs + LOG_WRITE_GRACE_MS;
const until = new Date(untilArg ?? Date.now() - settledMs).toISOString();
const db = await openForScript(config, createLogger('warn'));
// The export's own statements may run long: no statement timeout for this connection.
const sql = createSql(db.url, { ...config, poolMax: 1, statementTimeoutMs: 0 });
const out = values.out ? fs.createWriteStream(values.out) : process.stdout;
let code = 0;
try {
  const rows = await exportDecisions(sql, { since, until, format, windowS: windowArg ?? config.decisionAttributionWindowS }, out);
  // Everything reaches the file or the pipe before the process exits.
  await new Promise<void>((resolve, reject) => (values.out ? out.end((err?: Error | null) => (err ? reject(err) : resolve()))
    : out.write('', (err?: Error | null) => (err ? reject(err) : resolve()))));
  console.error(`exported ${rows} (decision, candidate) rows read in [${since}, ${until}) as ${format}; continue with --since ${until}`);
} catch (err) {
  console.error(`export failed: ${(err as Error).message}`);
  code = 1;
} finally {
  await sql.end();
  await db.embedded?.stop();
}
process.exit(code);
