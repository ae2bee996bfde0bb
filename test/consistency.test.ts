// The consistency property: every number in a decision comes from one instant.
// While writers commit concurrently, each decision is checked against
// invariants that span its statements (facts, candidate state, longer event
// lists, and the transaction handle resolvers such as `catalog` read through),
// not just the one inside the state statement. Moving any single reader out of
// the shared transaction (onto the pool, its own snapshot) must break one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREFETCH_PURCHASES, PREFETCH_SESSION_EVENTS } from '../src/reads/decision-sql.js';
import type { Reader } from '../src/reads/loaders.js';
import { items, ok, RECORD, testGateway, uid, UPSERT, type TestGateway } from './helpers.js';
import { sleep } from './live-helpers.js';

const INITIAL = 100_000;
const p = uid('consist');
const skus = Array.from({ length: 6 }, (_, i) => `${p}-${i}`);
/** Rewritten in one transaction as title `v<n>` with stock n: catalog (db) vs state. */
const titleSku = `${p}-title`;
/**
 * A round's buyer makes this many purchases, each with a VIEW: 40 session events,
 * all within limit 100; facts serve the lists for the first half, eventLists the rest.
 */
const ROUND_PURCHASES = 20;
const LIMIT = 100;
const writer = testGateway();
let titleN = 0;
let roundNo = 0;

const QUERY = `query($u: ID!, $s: ID!, $c: [ID!]!, $q: String!) {
  catalog(search: $q) { sku title }
  decisionContext(userId: $u, sessionId: $s, candidates: $c) {
    snapshot { cursor }
    user { head: recentPurchases { sku at } all: recentPurchases(limit: ${LIMIT}) { sku quantity at } }
    session { head: recentEvents { kind sku at } all: recentEvents(limit: ${LIMIT}) { kind sku quantity at } }
    candidates { sku inventory { available } velocity { salesLast5m } } } }`;

/** A decision alone, lists within what the facts statement prefetches: served as ONE statement (no transaction). */
const ONE_STATEMENT_QUERY = `query($u: ID!, $s: ID!, $c: [ID!]!) {
  decisionContext(userId: $u, sessionId: $s, candidates: $c) {
    snapshot { cursor } session { intent } candidates { sku inventory { available } velocity { salesLast5m } } } }`;

const titleItem = (n: number) => ({ sku: titleSku, title: `v${n}`, category: `${p}-cat`, priceMinor: 1000, currency: 'EUR', available: n });

beforeAll(async () => {
  ok(await writer.gql(UPSERT, {
    items: [...items(p, Object.fromEntries(skus.map((s) => [s.slice(p.length + 1), { available: INITIAL }]))), titleItem(titleN)],
  }));
});
afterAll(() => writer.close());

/** A dedicated buyer (user + session) whose purchases are the only sales of the round's fresh SKUs. */
interface Round { user: string; session: string; skus: string[] }
async function newRound(): Promise<Round> {
  const n = ++roundNo;
  const r = { user: `${p}-u${n}`, session: `${p}-s${n}`, skus: [0, 1, 2].map((i) => `${p}-r${n}-${i}`) };
  ok(await writer.gql(UPSERT, { items: items(p, Object.fromEntries(r.skus.map((s) => [s.slice(p.length + 1), { available: INITIAL }]))) }));
  return r;
}

type Ev = { kind?: string; sku: string; quantity?: number; at: string };
const bought = (list: Ev[], sku: string) =>
  list.filter((e) => (e.kind ?? 'PURCHASE') === 'PURCHASE' && e.sku === sku).reduce((n, e) => n + e.quantity!, 0);
const sameHead = (head: Ev[], all: Ev[], prefetch: number) =>
  head.length === Math.min(prefetch, all.length) && head.every((e, i) => e.sku === all[i]!.sku && e.at === all[i]!.at);

type Counts = { reads: number; purchases: number; roundPurchases: number; rounds: number; titleWrites: number;
  viaFacts: number; viaLists: number; cursorChecks: number };

/**
 * Writes continuously while reading. Stops at maxMs, at the first torn read
 * when stopOnTear, or after minMs once `enough` holds (so a slow machine runs
 * longer instead of checking too little).
 */
async function race(reader: TestGateway, o: { minMs?: number; maxMs: number; stopOnTear: boolean; enough?: (n: Counts) => boolean;
  /** ONE_STATEMENT_QUERY instead of QUERY: only the state and cursor (facts) vs state invariants apply. */
  oneStatement?: boolean }) {
  let done = false;
  const n: Counts = { reads: 0, purchases: 0, roundPurchases: 0, rounds: 0, titleWrites: 0, viaFacts: 0, viaLists: 0, cursorChecks: 0 };
  const tears: string[] = [];
  let started = Date.now();
  let firstTearMs: number | undefined;
  const tear = (kind: string, detail: string) => { firstTearMs ??= Date.now() - started; tears.push(`${kind}: ${detail}`); };

  // Buyers on shared SKUs (quantities 1-3): the single-statement and cursor invariants.
  const buy = async (w: number) => {
    for (let i = 0; !done; i++) {
      const events = [0, 1].map((j) => ({
        kind: 'PURCHASE', userId: `${p}-buyer${w}`, sku: skus[(w + i + j * 3) % skus.length], quantity: 1 + ((i + j) % 3),
      }));
      ok(await writer.gql(RECORD, { events }));
      n.purchases++;
    }
  };
  // The dedicated buyer, round after round (bounded so every event fits the lists read).
  let round = await newRound();
  const buyRounds = async () => {
    while (!done) {
      for (let i = 0; i < ROUND_PURCHASES && !done; i++) {
        const sku = round.skus[i % round.skus.length];
        ok(await writer.gql(RECORD, { events: [
          { kind: 'VIEW', userId: round.user, sessionId: round.session, sku },
          { kind: 'PURCHASE', userId: round.user, sessionId: round.session, sku, quantity: 1 },
        ] }));
        n.roundPurchases++;
      }
      if (!done) { round = await newRound(); n.rounds++; }
    }
  };
  const retitle = async () => {
    while (!done) {
      ok(await writer.gql(UPSERT, { items: [titleItem(++titleN)] }));
      n.titleWrites++;
    }
  };

  const seen: { cursor: number; sku: string; available: number }[] = [];
  const read = async () => {
    while (!done) {
      const r = round;
      const res = ok(await reader.gql(o.oneStatement ? ONE_STATEMENT_QUERY : QUERY, { u: r.user, s: r.session, c: [...skus, ...r.skus, titleSku], q: titleSku }));
      const d = res.decisionContext;
      n.reads++;
      const state = new Map<string, { available: number; sales: number }>();
      for (const c of d.candidates) {
        state.set(c.sku, { available: c.inventory.available, sales: c.velocity.salesLast5m });
        seen.push({ cursor: Number(d.snapshot.cursor), sku: c.sku, available: c.inventory.available });
      }
      // One statement (state): stock and sales of the shared SKUs.
      for (const s of skus) {
        const { available, sales } = state.get(s)!;
        if (available + sales !== INITIAL) tear('state alone', `${s}: ${available} + ${sales} = ${available + sales}`);
      }
      if (o.oneStatement) continue;
      // Events (facts while the session has fewer than 20, eventLists from there) vs state:
      // the buyer's session PURCHASEs and the user's purchases are exactly the round SKUs' sales.
      const sess: Ev[] = d.session.all;
      const buys: Ev[] = d.user.all;
      const via = sess.length >= PREFETCH_SESSION_EVENTS ? 'eventLists' : 'facts'; // see eventList() in reads/loaders.ts
      if (sess.length > PREFETCH_SESSION_EVENTS) n.viaLists++; // more than facts prefetches: eventLists served it
      if (sess.length < PREFETCH_SESSION_EVENTS) n.viaFacts++;
      if (sess.length >= LIMIT || buys.length >= LIMIT) tear('test bug', `a round overflowed the lists: ${sess.length}, ${buys.length}`);
      for (const s of r.skus) {
        const { available, sales } = state.get(s)!;
        const counts = [INITIAL - available, sales, bought(sess, s), bought(buys, s)];
        if (counts.some((c) => c !== counts[0])) {
          tear(`events (${via}) vs state`, `${s}: sold ${counts[0]}, salesLast5m ${counts[1]}, session PURCHASEs ${counts[2]}, user purchases ${counts[3]}`);
        }
      }
      // Facts vs eventLists: the prefetched heads are the start of the longer lists.
      if (!sameHead(d.session.head, sess, PREFETCH_SESSION_EVENTS) || !sameHead(d.user.head, buys, PREFETCH_PURCHASES)) {
        tear('facts vs eventLists', `heads ${d.session.head.length}/${d.user.head.length} differ from lists ${sess.length}/${buys.length}`);
      }
      // Catalog (the transaction handle) vs state: title and stock were written together.
      const title = res.catalog.find((i: { sku: string }) => i.sku === titleSku)?.title;
      const stock = state.get(titleSku)!.available;
      if (title !== `v${stock}`) tear('catalog (db) vs state', `title ${title}, stock ${stock}`);
      if (o.stopOnTear && tears.length) done = true;
    }
  };

  // Facts (cursor) vs state: each stock level seen must be the one the newest
  // inventory change at or before its cursor recorded (seq order is commit order).
  const log = new Map<string, { seq: number; available: number }[]>();
  let logSeq = 0;
  const checkCursors = async () => {
    const upTo = seen.length; // reads finished before the log is read: the log covers their snapshots
    const rows = await writer.sql<{ seq: string; sku: string; available: number }[]>`
      select seq, key as sku, (payload->>'available')::int as available from change_log
      where topic = 'inventory' and key like ${`${p}-%`} and seq > ${logSeq} order by seq`;
    for (const l of rows) {
      if (!log.has(l.sku)) log.set(l.sku, []);
      log.get(l.sku)!.push({ seq: Number(l.seq), available: l.available });
      logSeq = Number(l.seq);
    }
    for (const v of seen.slice(n.cursorChecks, upTo)) {
      const changes = log.get(v.sku) ?? [];
      let at = changes.length - 1; // cursors are recent: search back from the newest change
      while (at >= 0 && changes[at]!.seq > v.cursor) at--;
      const logged = changes[at]?.available;
      if (logged !== v.available) tear('cursor (facts) vs state', `${v.sku} at cursor ${v.cursor}: read ${v.available}, the log says ${logged}`);
    }
    n.cursorChecks = upTo;
  };
  started = Date.now();
  const checker = async () => {
    while (!done) {
      await sleep(250);
      await checkCursors();
      const ms = Date.now() - started;
      if ((o.stopOnTear && tears.length) || ms >= o.maxMs || (o.enough && ms >= (o.minMs ?? 0) && o.enough(n))) done = true;
    }
  };

  // A failing loop stops the others, so the test fails instead of hanging.
  const loops = [buy(0), buy(1), buyRounds(), retitle(), read(), read(), read(), checker()];
  await Promise.all(loops.map((l) => l.catch((e) => { done = true; throw e; })));
  await checkCursors();
  return { ...n, tears, firstTearMs, ms: Date.now() - started };
}

describe('one snapshot per decision', () => {
  it('never shows a torn context while writers commit concurrently', async () => {
    const reader = testGateway();
    // Not vacuous: enough writes of every kind land between enough reads, and both list sources are checked.
    const enough = (c: Counts) => c.reads >= 150 && c.purchases >= 40 && c.roundPurchases >= 30 && c.rounds >= 1
      && c.titleWrites >= 20 && c.viaFacts >= 10 && c.viaLists >= 10;
    const r = await race(reader, { minMs: 3000, maxMs: 20_000, stopOnTear: false, enough });
    await reader.close();
    console.log('safe race:', JSON.stringify({ ...r, tears: r.tears.length }));
    expect(r.tears).toEqual([]);
    expect(enough(r)).toBe(true);
    expect(r.cursorChecks).toBe(r.reads * (skus.length + 4));
  });

  it('a decision read as one statement: facts (its cursor) and candidate state agree, with no transaction', async () => {
    const reader = testGateway();
    const enough = (c: Counts) => c.reads >= 150 && c.purchases >= 40 && c.roundPurchases >= 30;
    const r = await race(reader, { minMs: 3000, maxMs: 20_000, stopOnTear: false, enough, oneStatement: true });
    const transactions = reader.statements.filter((s) => /^begin/i.test(s)).length;
    await reader.close();
    console.log('one-statement race:', JSON.stringify({ ...r, tears: r.tears.length, transactions }));
    expect(r.tears).toEqual([]);
    expect(enough(r)).toBe(true);
    expect(r.cursorChecks).toBe(r.reads * (skus.length + 4));
    expect(transactions).toBe(0); // the path under test: every decision was one statement
  });

  // Which invariants can see each reader leave the snapshot (any other tear would be a test bug).
  const catches: Record<Reader, RegExp> = {
    facts: /^(cursor \(facts\)|events \(facts\)|facts vs eventLists)/,
    state: /^(cursor|events|catalog)/,
    eventLists: /^(events \(eventLists\)|facts vs eventLists)/,
    db: /^catalog/,
  };
  it.each(['facts', 'state', 'eventLists', 'db'] as const)('finds a tear when only %s reads outside the shared transaction', async (name) => {
    const reader = testGateway({ unsafeReadOutsideTransaction: [name] });
    const r = await race(reader, { maxMs: 20_000, stopOnTear: true });
    await reader.close();
    console.log(`${name} outside: first tear after ${r.firstTearMs} ms, ${r.reads} reads: ${r.tears[0]}`);
    expect(r.tears.length).toBeGreaterThan(0);
    expect(r.tears[0]).toMatch(catches[name]);
  });
});
