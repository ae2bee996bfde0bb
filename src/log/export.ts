// The decision log's export for training jobs: one row per (decision,
// candidate) with its signals and outcome counts, streamed from a database
// cursor (constant memory) as JSON lines, CSV (csv-stringify) or Parquet
// (hyparquet-writer, one row group per EXPORT_GROUP rows).
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { ByteWriter, ParquetWriter, schemaFromColumnData, type ColumnSource } from 'hyparquet-writer';
import type { Sql } from '../db/client.js';
import { EXPORT_COLUMNS, exportRows, type ExportRow } from '../reads/decision-log.js';

export const FORMATS = ['jsonl', 'csv', 'parquet'] as const;
export type ExportFormat = (typeof FORMATS)[number];

/** Decisions read in [since, until): consecutive windows export every logged decision exactly once. */
export interface ExportOptions { since: string; until: string; format: ExportFormat; windowS: number }

const EXPORT_GROUP = 10_000;

type Basic = 'STRING' | 'INT32' | 'BOOLEAN' | 'TIMESTAMP';
const TIMESTAMPS = new Set<keyof ExportRow>(['read_at', 'inventory_updated_at', 'price_updated_at']);
const INTS = new Set<keyof ExportRow>(['lag_ms', 'position', 'available', 'reserved', 'amount_minor', 'list_amount_minor',
  'sales_last_5s', 'sales_last_5m', 'clicks_last_30s', 'clicks', 'add_to_carts', 'purchases', 'purchased_units']);
const typeOf = (c: keyof ExportRow): Basic =>
  (TIMESTAMPS.has(c) ? 'TIMESTAMP' : INTS.has(c) ? 'INT32' : c === 'eligible' ? 'BOOLEAN' : 'STRING');

/** Writes bytes to a Node stream, honouring backpressure. */
async function write(out: Writable, chunk: string | Uint8Array): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Streams the export to `out` (not ended here); resolves to the rows written. */
export async function exportDecisions(sql: Sql, opts: ExportOptions, out: Writable): Promise<number> {
  let rows = 0;
  const cursor = exportRows(sql, opts.since, opts.until, opts.windowS);
  if (opts.format === 'jsonl') {
    for await (const batch of cursor) {
      await write(out, batch.map((r) => `${JSON.stringify(r, EXPORT_COLUMNS as string[])}\n`).join(''));
      rows += batch.length;
    }
    return rows;
  }
  if (opts.format === 'csv') {
    // Null is an empty field; booleans are true/false; JSON columns are quoted text.
    const csv = stringify({ header: true, columns: EXPORT_COLUMNS as string[], cast: { boolean: (v) => (v ? 'true' : 'false') } });
    const piped = new Promise<void>((resolve, reject) => {
      csv.on('data', (chunk: Buffer) => { if (!out.write(chunk)) { csv.pause(); out.once('drain', () => csv.resume()); } });
      csv.on('end', resolve);
      csv.on('error', reject);
    });
    for await (const batch of cursor) {
      for (const r of batch) if (!csv.write(r)) await once(csv, 'drain');
      rows += batch.length;
    }
    csv.end();
    await piped;
    return rows;
  }
  // Parquet: every row group is encoded from one slice of rows and written out before the next is read.
  const bytes = new ByteWriter();
  const columns = (group: ExportRow[]): ColumnSource[] => EXPORT_COLUMNS.map((name) => ({
    name,
    type: typeOf(name),
    data: group.map((r) => (TIMESTAMPS.has(name) && r[name] !== null ? new Date(r[name] as string) : r[name])),
  }));
  const emit = async () => {
    await write(out, new Uint8Array(bytes.buffer.slice(0, bytes.index)));
    bytes.index = 0; // offsets in the file keep counting in bytes.offset
  };
  const writer = new ParquetWriter({ writer: bytes, schema: schemaFromColumnData({ columnData: columns([]) }), createdBy: 'decision-context-gateway' });
  let group: ExportRow[] = [];
  const flushGroup = async () => {
    if (!group.length) return;
    await writer.write({ columnData: columns(group), rowGroupSize: group.length });
    await emit();
    group = [];
  };
  for await (const batch of cursor) {
    for (const r of batch) group.push(r);
    rows += batch.length;
    if (group.length >= EXPORT_GROUP) await flushGroup();
  }
  await flushGroup();
  writer.finish();
  await emit();
  return rows;
}
