// The consistency property: with buyers committing concurrently, no decision
// may see available + salesLast5m differ from the initial stock, nor a stock
// level other than the one the newest change at or before its snapshot cursor
// recorded (the cursor is read by another statement than the stock). The same
// test with loaders bound outside the shared transaction must see it break.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items, ok, RECORD, testGateway, uid, UPSERT, type TestGateway } from './helpers.js';

const INITIAL = 100_000;
const p = uid('consist');
const skus = Array.from({ length: 6 }, (_, i) => `${p}-${i}`);
const writer = testGateway();
const QUERY = `query($c: [ID!]!) { decisionContext(userId: "${p}-reader", candidates: $c) {
  snapshot { cursor } candidates { sku inventory { available } velocity { salesLast5m } } } }`;

beforeAll(async () => {
  ok(await writer.gql(UPSERT, { items: items(p, Object.fromEntries(skus.map((s) => [s.slice(p.length + 1), { available: INITIAL }]))) }));
});
afterAll(() => writer.close());

/** Buys continuously while reading; stops at the first torn read or when time is up. */
async function race(reader: TestGateway, ms: number, stopOnTear: boolean) {
  let done = false;
  let reads = 0;
  let purchases = 0;
  const tears: string[] = [];
  const buy = async (w: number) => {
    for (let i = 0; !done; i++) {
      const events = [0, 1].map((j) => ({
        kind: 'PURCHASE', userId: `${p}-buyer${w}`, sku: skus[(w + i + j * 3) % skus.length], quantity: 1 + ((i + j) % 3),
      }));
      ok(await writer.gql(RECORD, { events }));
      purchases++;
    }
  };
  const seen: { cursor: number; sku: string; available: number }[] = [];
  const read = async () => {
    while (!done) {
      const d = ok(await reader.gql(QUERY, { c: skus })).decisionContext;
      reads++;
      for (const c of d.candidates) {
        const sum = c.inventory.available + c.velocity.salesLast5m;
        if (sum !== INITIAL) tears.push(`${c.sku}: ${c.inventory.available} + ${c.velocity.salesLast5m} = ${sum}`);
        seen.push({ cursor: Number(d.snapshot.cursor), sku: c.sku, available: c.inventory.available });
      }
      if (stopOnTear && tears.length) done = true;
    }
  };
  // Each stock level seen must be the one the newest inventory change at or before its cursor recorded.
  let checked = 0;
  const checkCursors = async () => {
    const upTo = seen.length; // reads finished before the log is read: the log covers their snapshots
    const log = await writer.sql<{ seq: string; sku: string; available: number }[]>`
      select seq, key as sku, (payload->>'available')::int as available from change_log
      where topic = 'inventory' and key = any(${skus}::text[]) order by seq`;
    const bySku = new Map<string, { seq: number; available: number }[]>();
    for (const l of log) {
      if (!bySku.has(l.sku)) bySku.set(l.sku, []);
      bySku.get(l.sku)!.push({ seq: Number(l.seq), available: l.available });
    }
    for (const v of seen.slice(checked, upTo)) {
      const logged = bySku.get(v.sku)?.filter((c) => c.seq <= v.cursor).at(-1)?.available;
      if (logged !== v.available) tears.push(`${v.sku} at cursor ${v.cursor}: read ${v.available}, the log says ${logged}`);
    }
    checked = upTo;
  };
  const checker = async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 500));
      await checkCursors();
      if (stopOnTear && tears.length) done = true;
    }
  };
  const timer = setTimeout(() => { done = true; }, ms);
  await Promise.all([buy(0), buy(1), buy(2), buy(3), read(), read(), read(), checker()]);
  clearTimeout(timer);
  await checkCursors();
  return { reads, purchases, tears };
}

describe('one snapshot per decision', () => {
  it('never shows a torn context while buyers commit concurrently', async () => {
    const reader = testGateway();
    const { reads, purchases, tears } = await race(reader, 4000, false);
    await reader.close();
    expect(purchases).toBeGreaterThan(20);
    expect(reads).toBeGreaterThan(20);
    expect(tears).toEqual([]);
  });

  it('breaks when loaders read outside the shared transaction (the test can fail)', async () => {
    const reader = testGateway({ unsafeReadOutsideTransaction: true });
    const { tears } = await race(reader, 20_000, true);
    await reader.close();
    expect(tears.length).toBeGreaterThan(0);
  });
});
