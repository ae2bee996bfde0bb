// The decision log against hostile or under-privileged callers, through the
// real server (keys on): only admin keys read it (decisionLog, decisionOutcomes)
// over HTTP and graphql-ws; log: true needs a key that may write; paging is
// bounded and its cursor validated. And retention drops whole partitions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.js';
import { maintainDecisionLog } from '../src/log/retention.js';
import { ensurePartitions, insertDecisionBatch, partitionName } from '../src/writes/decision-log.js';
import { holdInTransaction, items, ownDatabase } from './helpers.js';
import { liveGateway, postAs, wsClient, type LiveGateway } from './live-helpers.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
const keys: Record<string, string> = {};
const as = (role: string) => ({ authorization: `Bearer ${keys[role]}` });
const code = (res: { body: any }) => res.body.errors?.[0]?.extensions?.code ?? 'OK';

const DECIDE = `query($c: [ID!]!, $log: Boolean) { decisionContext(userId: "u-adm", candidates: $c, log: $log) {
  decisionId logged candidates { sku eligible reasons inventory { available } price { amountMinor } velocity { salesLast5m } } } }`;
const PAGE = `query($after: String, $first: Int!) { decisionLog(after: $after, first: $first) {
  edges { cursor node { decisionId keyId userId snapshot { id cursor source } intent candidates { sku eligible reasons inventory { available } price { amountMinor } velocity { salesLast5m } } } }
  pageInfo { hasNextPage endCursor } } }`;
const OUTCOMES = 'query($d: ID!) { decisionOutcomes(decisionId: $d) { kind } }';

beforeAll(async () => {
  db = await ownDatabase();
  gw = await liveGateway({}, db.url);
  for (const [name, roles] of Object.entries({
    admin: ['admin'], reader: ['reader'], bff: ['reader', 'subscriber', 'writer'], merch: ['merchandiser'],
  } as const)) keys[name] = (await createKey(gw.sql, roles, name)).key;
  await gw.keys.reload();
  const up = await postAs(gw.url, as('admin'), 'mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }',
    { i: items('adm', { a: {}, b: { available: 0 } }) });
  expect(up.body.errors).toBeUndefined();
});
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

describe('who may log and read the log', () => {
  const logged: { id: string; answer: any }[] = [];

  it('log: true needs a key that may write (a reader-only key cannot fill the log); sampling needs nothing', async () => {
    const reader = await postAs(gw.url, as('reader'), DECIDE, { c: ['adm-a'], log: true });
    expect(code(reader)).toBe('FORBIDDEN');
    expect(reader.body.errors[0].extensions.field).toBe('log');
    expect(code(await postAs(gw.url, as('merch'), DECIDE, { c: ['adm-a'], log: true }))).toBe('FORBIDDEN');
    const plain = await postAs(gw.url, as('reader'), DECIDE, { c: ['adm-a'] });
    expect(plain.body.data.decisionContext.logged).toBe(false); // the test gateway samples nothing
    for (let i = 0; i < 5; i++) {
      const res = await postAs(gw.url, as(i % 2 ? 'bff' : 'admin'), DECIDE, { c: ['adm-a', 'adm-b', 'adm-a'].slice(0, 1 + (i % 3)), log: true });
      expect(code(res)).toBe('OK');
      logged.push({ id: res.body.data.decisionContext.decisionId, answer: res.body.data.decisionContext });
    }
    await gw.decisionLog.flush();
  });

  it.each(['reader', 'bff', 'merch'])('%s keys get FORBIDDEN for decisionLog and decisionOutcomes, over HTTP and graphql-ws', async (role) => {
    expect(code(await postAs(gw.url, as(role), PAGE, { first: 5 }))).toBe('FORBIDDEN');
    expect(code(await postAs(gw.url, as(role), OUTCOMES, { d: logged[0]!.id }))).toBe('FORBIDDEN');
    const client = wsClient(gw.wsUrl, as(role));
    try {
      const errors = await new Promise<any>((resolve) => {
        client.subscribe({ query: PAGE, variables: { first: 5 } }, {
          next: (r) => resolve(r.errors), error: (e) => resolve(e), complete: () => resolve(undefined),
        });
      });
      expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    } finally {
      await client.dispose();
    }
  });

  it('an admin pages through the log in decision order; each entry is the answer it logged', async () => {
    const seen: any[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await postAs(gw.url, as('admin'), PAGE, { after, first: 2 });
      expect(code(res)).toBe('OK');
      const c = res.body.data.decisionLog;
      expect(c.edges.length).toBeLessThanOrEqual(2);
      seen.push(...c.edges.map((e: any) => e.node));
      after = c.pageInfo.endCursor;
      if (!c.pageInfo.hasNextPage) break;
    }
    expect(seen.map((n) => n.decisionId)).toEqual(logged.map((d) => d.id));
    seen.forEach((n, i) => {
      expect(n.candidates).toEqual(logged[i]!.answer.candidates);
      expect(n.keyId).toMatch(/^[0-9a-z]+$/);
      expect(n.snapshot.source).toBe('PRIMARY');
    });
    expect(code(await postAs(gw.url, as('admin'), OUTCOMES, { d: logged[0]!.id }))).toBe('OK');
  });

  it.each([
    ['first: 0', { first: 0 }, 'first'],
    ['first: 101', { first: 101 }, 'first'],
    ['after with a NUL byte', { first: 5, after: '0190a0b0-0000-7000-8000-00000000000\u0000' }, 'after'],
    ['after too long', { first: 5, after: `${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}0` }, 'after'],
    ['after not an id', { first: 5, after: 'page-2' }, 'after'],
  ])('bounded and validated: %s is BAD_USER_INPUT', async (_, vars, field) => {
    const res = await postAs(gw.url, as('admin'), PAGE, vars);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });
});

describe('retention', () => {
  const DAY = 86_400_000;
  const row = (id: string, readAt: string) => ({
    decision_id: id, read_at: readAt, key_id: null, user_id: 'u', session_id: null, region: null, snapshot_id: '1:1:',
    snapshot_cursor: '0', source: 'PRIMARY', lag_ms: 0, context: {}, signals: [],
  });

  it('drops every partition wholly older than the retention, keeps the rest, and keeps partitions ready ahead', async () => {
    const now = Date.UTC(2031, 0, 10, 12);
    await ensurePartitions(gw.sql, now - 5 * DAY, 6); // Jan 5 … Jan 10
    await insertDecisionBatch(gw.sql, JSON.stringify([
      row('00000000-0000-7000-8000-000000000001', new Date(now - 5 * DAY).toISOString()),
      row('00000000-0000-7000-8000-000000000002', new Date(now - 2 * DAY - 3_600_000).toISOString()),
      row('00000000-0000-7000-8000-000000000003', new Date(now - DAY).toISOString()),
    ]));
    const { made, dropped } = await maintainDecisionLog(gw.sql, 2, now);
    // Kept: Jan 8 (it holds rows newer than now − 2 days), Jan 9, Jan 10; made ahead: Jan 11 and 12.
    // (The partitions the gateway made for today are older than this 2031 clock's cutoff too.)
    expect(dropped.filter((n) => n.startsWith('decision_log_p2031')).sort()).toEqual([5, 6, 7].map((d) => partitionName(Date.UTC(2031, 0, d))));
    expect(made.sort()).toEqual([11, 12].map((d) => partitionName(Date.UTC(2031, 0, d))));
    const left = await gw.sql`select decision_id::text as id from decision_log where read_at >= '2031-01-01' order by 1`;
    expect(left.map((r: any) => r.id)).toEqual(['00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000003']);
    const parts = await gw.sql`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'decision_log'::regclass and c.relname like 'decision_log_p2031%' order by 1`;
    expect(parts.map((r: any) => r.relname)).toEqual([8, 9, 10, 11, 12].map((d) => partitionName(Date.UTC(2031, 0, d))));
  });

  it('a pass behind a reader of the log (an export) gives up at once instead of stalling the log\'s writes behind it', async () => {
    const now = Date.UTC(2032, 0, 10, 12);
    await ensurePartitions(gw.sql, now - 5 * DAY, 2); // Jan 5, Jan 6: old enough to drop
    // A reader holding its lock to the end, as an export's cursor does.
    const reader = await holdInTransaction(db.url, (tx) => tx`select count(*) from decision_log`);
    try {
      // lock_not_available after 200 ms, not a wait until the statement timeout with every insert queued behind it.
      await expect(maintainDecisionLog(gw.sql, 2, now)).rejects.toMatchObject({ code: '55P03' });
      await insertDecisionBatch(gw.sql, JSON.stringify([row('00000000-0000-7000-8000-0000000000a1', new Date(now - 5 * DAY).toISOString())]));
    } finally {
      await reader.release();
    }
    const { dropped } = await maintainDecisionLog(gw.sql, 2, now); // the next pass, with the reader gone
    expect(dropped).toEqual(expect.arrayContaining([5, 6].map((d) => partitionName(Date.UTC(2032, 0, d)))));
  });
});
