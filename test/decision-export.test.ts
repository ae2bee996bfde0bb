// Export round trip: `npm run export:decisions` in each format, read back with
// an independent reader (csv-parse, hyparquet), equals the table row for row:
// one row per (decision, candidate), outcome counts within the window.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseCsv } from 'csv-parse/sync';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_COLUMNS } from '../src/reads/decision-log.js';
import { LOGGED_DECISION, loggedGateway, type Logged } from './decision-log-helpers.js';
import { items, ok, ownDatabase, RECORD, UPSERT } from './helpers.js';

const run = promisify(execFile);
const WINDOW_S = 1800;
let db: Awaited<ReturnType<typeof ownDatabase>>;
let l: Logged;
let dir: string;
const since = new Date(Date.now() - 60_000).toISOString();

beforeAll(async () => {
  db = await ownDatabase();
  l = loggedGateway({}, { url: db.url });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-export-'));
  ok(await l.gw.gql(UPSERT, { items: items('x', { a: { available: 5 }, b: { available: 0 }, c: { price: 1999 } }) }));
  ok(await l.gw.gql(`mutation { setPolicyFlag(scope: SKU, target: "x-c", kind: RISK_GATE, active: true, reason: "comma, \\"quote\\"\\nnewline") { active } }`));
  const decide = async (u: string, c: string[], s: string | null = null) =>
    ok(await l.gw.gql(LOGGED_DECISION, { u, s, c, r: null, log: true })).decisionContext.decisionId as string;
  const d1 = await decide('u1', ['x-a', 'x-b', 'x-a'], 's1');
  const d2 = await decide('u2', ['x-c', 'x-missing']);
  await decide('u3', Array.from({ length: 60 }, (_, i) => ['x-a', 'x-b', 'x-c'][i % 3]!));
  ok(await l.gw.gql(RECORD, { events: [
    { kind: 'CLICK', userId: 'u1', sessionId: 's1', sku: 'x-a', decisionId: d1, position: 2 },
    { kind: 'PURCHASE', userId: 'u1', sessionId: 's1', sku: 'x-a', decisionId: d1, quantity: 2 },
    { kind: 'ADD_TO_CART', userId: 'u2', sku: 'x-c', decisionId: d2, position: 0 },
  ] }));
  await l.log.flush();
});
afterAll(async () => {
  await l.close();
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** What the export must hold, computed here from decision_log and events (not through the export's SQL). */
async function expected() {
  const logged = await l.sql<any[]>`select decision_id::text, read_at, key_id, user_id, session_id, region, snapshot_id,
    snapshot_cursor::text, source, lag_ms, context, signals from decision_log where read_at >= ${since} order by decision_id`;
  const events = await l.sql<any[]>`select decision_id::text, kind, sku, position, quantity, at from events where decision_id is not null`;
  return logged.flatMap((d) => d.signals.map((s: any, position: number) => {
    const mine = events.filter((e) => e.decision_id === d.decision_id && (e.position === position || (e.position === null && e.sku === s.sku))
      && Date.parse(e.at) >= Date.parse(d.read_at) && Date.parse(e.at) <= Date.parse(d.read_at) + WINDOW_S * 1000);
    const count = (k: string) => mine.filter((e) => e.kind === k).length;
    return {
      decision_id: d.decision_id, read_at: d.read_at, key_id: d.key_id, user_id: d.user_id, session_id: d.session_id, region: d.region,
      snapshot_id: d.snapshot_id, snapshot_cursor: d.snapshot_cursor, source: d.source, lag_ms: d.lag_ms,
      position, sku: s.sku, title: s.item?.title ?? null, category: s.item?.category ?? null,
      available: s.inventory?.available ?? null, reserved: s.inventory?.reserved ?? null, inventory_updated_at: s.inventory?.updatedAt ?? null,
      amount_minor: s.price?.amountMinor ?? null, currency: s.price?.currency ?? null, list_amount_minor: s.price?.listAmountMinor ?? null,
      price_updated_at: s.price?.updatedAt ?? null, sales_last_5s: s.velocity.salesLast5s, sales_last_5m: s.velocity.salesLast5m,
      clicks_last_30s: s.velocity.clicksLast30s, policy: s.policy, eligible: s.eligible, reasons: s.reasons.join(','),
      segment: d.context.segment, intent: d.context.intent, context: d.context,
      clicks: count('CLICK'), add_to_carts: count('ADD_TO_CART'), purchases: count('PURCHASE'),
      purchased_units: mine.filter((e) => e.kind === 'PURCHASE').reduce((n, e) => n + e.quantity, 0),
    };
  }));
}

const INTS = ['lag_ms', 'position', 'available', 'reserved', 'amount_minor', 'list_amount_minor', 'sales_last_5s', 'sales_last_5m',
  'clicks_last_30s', 'clicks', 'add_to_carts', 'purchases', 'purchased_units'];

/** A row read back from any format, in the expected row's types (JSON columns parsed, timestamps as ISO text). */
function normalize(row: Record<string, unknown>, format: string) {
  const out: Record<string, unknown> = {};
  for (const c of EXPORT_COLUMNS) {
    let v = row[c];
    if (format === 'csv') {
      v = v === '' && c !== 'reasons' ? null : v;
      if (v !== null && INTS.includes(c)) v = Number(v);
      if (c === 'eligible') v = v === 'true';
    }
    if (v instanceof Date) v = v.toISOString();
    if (typeof v === 'bigint') v = Number(v);
    if ((c === 'policy' || c === 'context') && typeof v === 'string') v = JSON.parse(v);
    if (c === 'reasons' && v === null) v = '';
    out[c] = v;
  }
  return out;
}

async function exportTo(format: string): Promise<{ file: string; stderr: string }> {
  const file = path.join(dir, `out.${format}`);
  // --until past now: the default (a settled instant a few seconds back) would leave out the decisions just made.
  const until = new Date(Date.now() + 60_000).toISOString();
  const { stderr } = await run(process.execPath, ['--import', 'tsx', 'src/scripts/export-decisions.ts', '--since', since, '--until', until, '--format', format, '--out', file], {
    env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' }, timeout: 60_000,
  });
  return { file, stderr };
}

const readBack: Record<string, (file: string) => Promise<Record<string, unknown>[]>> = {
  jsonl: async (file) => fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line)),
  csv: async (file) => parseCsv(fs.readFileSync(file), { columns: true }),
  parquet: async (file) => {
    const buf = fs.readFileSync(file);
    return (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) })) as Record<string, unknown>[];
  },
};

describe('npm run export:decisions', () => {
  it.each(['jsonl', 'csv', 'parquet'])('%s: read back, one row per (decision, candidate), equal to the table', async (format) => {
    const want = await expected();
    // Not vacuous: 3 + 2 + 60 candidate rows, outcomes by position and by SKU, a reason list, an unknown SKU, text needing quotes.
    expect(want).toHaveLength(65);
    expect(want.filter((r) => r.clicks + r.add_to_carts + r.purchases > 0).map((r) => [r.sku, r.position, r.clicks, r.add_to_carts, r.purchases]))
      .toEqual([['x-a', 0, 0, 0, 1], ['x-a', 2, 1, 0, 1], ['x-c', 0, 0, 1, 0]]);
    const { file, stderr } = await exportTo(format);
    expect(stderr).toMatch(/exported 65 \(decision, candidate\) rows/);
    const got = (await readBack[format]!(file)).map((r) => normalize(r, format));
    expect(got).toEqual(want);
  });

  it('refuses a missing or bad --since and an unknown format (exit 2, usage)', async () => {
    for (const args of [['--format', 'jsonl'], ['--since', 'yesterday'], ['--since', since, '--format', 'xml']]) {
      const res = await run(process.execPath, ['--import', 'tsx', 'src/scripts/export-decisions.ts', ...args], {
        env: { ...process.env, DATABASE_URL: db.url },
      }).then(() => ({ code: 0, stderr: '' }), (err) => ({ code: err.code as number, stderr: String(err.stderr) }));
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/usage: npm run export:decisions/);
    }
  });
});
