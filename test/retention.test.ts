// Retention keeps what readers need: pruned change-log entries are remembered
// as expired, so an old cursor is refused rather than silently skipping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logBounds, pruneChanges } from '../src/live/changelog.js';
import { ChangeHub } from '../src/live/hub.js';
import { drain } from './live-helpers.js';
import { createLogger } from '../src/logger.js';
import { items, ok, ownGateway, uid, UPSERT, type TestGateway } from './helpers.js';

// Retention works on whole tables: give it a database of its own.
let gw: TestGateway;
const p = uid('maint');
beforeAll(async () => {
  gw = await ownGateway();
});
afterAll(() => gw.close());

it('drops change-log entries past retention and records how far, for CURSOR_EXPIRED', async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { old1: {}, old2: {} }) }));
  const [row] = await gw.sql<{ max: string }[]>`select max(seq)::text as max from change_log where key in (${`${p}-old1`}, ${`${p}-old2`})`;
  await gw.sql`update change_log set committed_at = now() - interval '2 days' where seq <= ${Number(row!.max)}`;
  ok(await gw.gql(UPSERT, { items: items(p, { fresh: {} }) }));
  await pruneChanges(gw.sql, 86_400);
  const bounds = await logBounds(gw.sql);
  expect(bounds.prunedThrough).toBeGreaterThanOrEqual(Number(row!.max));
  const [{ n }] = (await gw.sql`select count(*)::int as n from change_log where seq <= ${Number(row!.max)}`) as unknown as [{ n: number }];
  expect(n).toBe(0);
  const [fresh] = await gw.sql`select 1 from change_log where key = ${`${p}-fresh`}`;
  expect(fresh).toBeDefined();
});

describe('a log emptied by retention', () => {
  it('keeps its head: snapshot.cursor and the last cursor handed out stay valid to resume from', async () => {
    ok(await gw.gql(UPSERT, { items: items(p, { h1: {}, h2: {} }) }));
    const before = ok(await gw.gql(`{ decisionContext(userId: "u", candidates: []) { snapshot { cursor } } }`)).decisionContext.snapshot.cursor;
    expect(Number(before)).toBeGreaterThan(0);
    await gw.sql`update change_log set committed_at = now() - interval '2 days'`;
    await pruneChanges(gw.sql, 86_400);
    const [{ n }] = (await gw.sql`select count(*)::int as n from change_log`) as unknown as [{ n: number }];
    expect(n).toBe(0); // everything pruned
    expect((await logBounds(gw.sql)).head).toBe(Number(before));
    const after = ok(await gw.gql(`{ decisionContext(userId: "u", candidates: []) { snapshot { cursor } } }`)).decisionContext.snapshot.cursor;
    expect(after).toBe(before);
    // The client's last cursor is still accepted: it is the head, not "ahead of the log".
    const hub = new ChangeHub({ sql: gw.sql, logger: createLogger('silent'), bufferLimit: 100, pollMs: 60_000 });
    const sub = await hub.subscribe({ topic: 'inventory', keys: null }, before);
    await sub.return!();
  });
});

describe('a prune during a long replay', () => {
  it('ends the subscription with CURSOR_EXPIRED after the rows it delivered, never skipping any', async () => {
    const start = (await logBounds(gw.sql)).head;
    const skus = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    ok(await gw.gql(UPSERT, { items: items(`${p}-replay`, Object.fromEntries(skus.map((s) => [s, {}]))) }));
    const hub = new ChangeHub({ sql: gw.sql, logger: createLogger('silent'), bufferLimit: 10_000, pollMs: 60_000 });
    await hub.start(); // dispatched through the head: a subscriber from `start` replays from the log, in pages
    const sub = await hub.subscribe({ topic: 'inventory', keys: null }, String(start));
    const seqs: number[] = [];
    for (let i = 0; i < 100; i++) seqs.push(((await sub.next()).value as { seq: number }).seq);
    await gw.sql`update change_log set committed_at = now() - interval '2 days' where seq <= ${start + 700}`;
    await pruneChanges(gw.sql, 86_400);
    const { end } = await drain(sub, seqs);
    await hub.stop();
    // Contiguous from the cursor (one page was already read), then the end: nothing skipped.
    expect(seqs).toEqual(seqs.map((_, i) => start + 1 + i));
    expect(seqs.at(-1)!).toBeLessThan(start + 1200);
    expect(end?.error.extensions.code).toBe('CURSOR_EXPIRED');
    expect(end?.error.extensions.lastCursor).toBe(String(seqs.at(-1)));
  });
});

describe('a stopped hub', () => {
  it('refuses new subscriptions with UNAVAILABLE instead of registering ones nothing will end', async () => {
    const hub = new ChangeHub({ sql: gw.sql, logger: createLogger('silent'), bufferLimit: 100, pollMs: 60_000 });
    await hub.start();
    await hub.stop();
    await expect(hub.subscribe({ topic: 'inventory', keys: null }, null)).rejects.toMatchObject({ extensions: { code: 'UNAVAILABLE' } });
    expect(hub.subscriberCount).toBe(0);
  });
});
