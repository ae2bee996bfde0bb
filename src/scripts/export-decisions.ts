// `npm run export:decisions -- --since 2026-11-26T00:00:00Z [--format jsonl|csv|parquet] [--out file]`:
// every logged (decision, candidate) from `since` on with its outcome counts, streamed to stdout
// or a file. Works against DATABASE_URL or the embedded database (a running gateway's, if one is up).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { openForScript } from '../db/database.js';
import { exportDecisions, FORMATS, type ExportFormat } from '../log/export.js';
import { createLogger } from '../logger.js';

const usage = `usage: npm run export:decisions -- --since <ISO time> [--format ${FORMATS.join('|')}] [--out <file>] [--window-s <seconds>]`;
let values: { since?: string; format?: string; out?: string; 'window-s'?: string };
try {
  ({ values } = parseArgs({
    options: { since: { type: 'string' }, format: { type: 'string', default: 'jsonl' }, out: { type: 'string' }, 'window-s': { type: 'string' } },
  }));
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
const since = values.since && !Number.isNaN(Date.parse(values.since)) ? new Date(values.since).toISOString() : undefined;
const format = values.format as ExportFormat;
const windowArg = values['window-s'] === undefined ? undefined : Number(values['window-s']);
if (!since || !FORMATS.includes(format) || (windowArg !== undefined && !(Number.isInteger(windowArg) && windowArg > 0))) {
  console.error(usage);
  process.exit(2);
}
const config = loadConfig();
const db = await openForScript(config, createLogger('warn'));
// The export's own statements may run long: no statement timeout for this connection.
const sql = createSql(db.url, { ...config, poolMax: 1, statementTimeoutMs: 0 });
const out = values.out ? fs.createWriteStream(values.out) : process.stdout;
let code = 0;
try {
  const rows = await exportDecisions(sql, { since, format, windowS: windowArg ?? config.decisionAttributionWindowS }, out);
  // Everything reaches the file or the pipe before the process exits.
  await new Promise<void>((resolve, reject) => (values.out ? out.end((err?: Error | null) => (err ? reject(err) : resolve()))
    : out.write('', (err?: Error | null) => (err ? reject(err) : resolve()))));
  console.error(`exported ${rows} (decision, candidate) rows since ${since} as ${format}`);
} catch (err) {
  console.error(`export failed: ${(err as Error).message}`);
  code = 1;
} finally {
  await sql.end();
  await db.embedded?.stop();
}
process.exit(code);
