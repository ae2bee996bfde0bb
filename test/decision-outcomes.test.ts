// Outcomes as labels: events cite a logged decision (and a candidate's
// position); an unknown or malformed citation refuses the whole batch; the
// attribution window bounds what counts, in decisionOutcomes and the view alike.
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGGED_DECISION, loggedGateway, type Logged } from './decision-log-helpers.js';
import { items, ok, RECORD, uid, UPSERT } from './helpers.js';
import { sleep } from './live-helpers.js';

const p = uid('dout');
const [a, b, c] = ['a', 'b', 'c'].map((n) => `${p}-${n}`) as [string, string, string];
const user = `${p}-user`;
const OUTCOMES = `query($d: ID!) { decisionOutcomes(decisionId: $d) { kind sku position quantity at } }`;
// Flushes only when asked (1 h): an event citing a decision still queued must wait for its row.
const WINDOW_S = 2;
let l: Logged;

beforeAll(async () => {
  l = loggedGateway({ flushMs: 3_600_000 }, { attributionWindowS: WINDOW_S });
  ok(await l.gw.gql(UPSERT, { items: items(p, { a: { available: 50 }, b: { available: 50 }, c: { available: 50 } }) }));
});
afterAll(() => l.close());

async function decide(candidates = [a, b, a], u = user): Promise<string> {
  const d = ok(await l.gw.gql(LOGGED_DECISION, { u, s: null, c: candidates, r: null, log: true })).decisionContext;
  expect(d.logged).toBe(true);
  return d.decisionId;
}

const eventsOf = async (u: string) =>
  (await l.sql`select kind, sku, decision_id::text as "decisionId", position from events where user_id = ${u} order by id`) as any[];
const stockOf = async (sku: string) => (await l.sql`select available from inventory where sku = ${sku}`)[0]!.available;

describe('events cite decisions', () => {
  it('a click with a decisionId joins its decision, at once (a queued row is written first)', async () => {
    const id = await decide();
    ok(await l.gw.gql(RECORD, { events: [
      { kind: 'CLICK', userId: user, sku: b, decisionId: id, position: 1 },
      { kind: 'ADD_TO_CART', userId: user, sku: a, decisionId: id.toUpperCase() },
      { kind: 'PURCHASE', userId: user, sku: a, decisionId: id, position: 2, quantity: 3 },
      { kind: 'VIEW', userId: user, sku: c },
    ] }));
    const out = ok(await l.gw.gql(OUTCOMES, { d: id })).decisionOutcomes;
    expect(out.map((o: any) => [o.kind, o.sku, o.position, o.quantity])).toEqual([
      ['CLICK', b, 1, 1], ['ADD_TO_CART', a, null, 1], ['PURCHASE', a, 2, 3],
    ]);
    // The view says the same (its window defaults to 30 minutes).
    const view = await l.sql`select kind, sku, position from decision_outcomes where decision_id = ${id} order by event_id`;
    expect(view.map((o: any) => [o.kind, o.sku, o.position])).toEqual([['CLICK', b, 1], ['ADD_TO_CART', a, null], ['PURCHASE', a, 2]]);
  });

  it('an unknown decisionId gets NOT_FOUND and the whole batch is refused: nothing written', async () => {
    const id = await decide();
    const u = `${p}-refused`;
    const before = await stockOf(a);
    const unknown = randomUUID();
    const res = await l.gw.gql(RECORD, { events: [
      { kind: 'PURCHASE', userId: u, sku: a, quantity: 2 },
      { kind: 'CLICK', userId: u, sku: a, decisionId: id },
      { kind: 'CLICK', userId: u, sku: b, decisionId: unknown },
    ] });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', decisionIds: [unknown] });
    expect(res.errors?.[0]?.message).toMatch(/nothing was written/);
    expect(await eventsOf(u)).toEqual([]);
    expect(await stockOf(a)).toBe(before);
  });

  it('a click reaching another process (WORKERS > 1) before the deciding one flushed still joins its decision', async () => {
    // Two gateways on one database, each with its own log, as two workers are (same settings: flush every 300 ms).
    const [decider, clicker] = [loggedGateway({ flushMs: 300 }), loggedGateway({ flushMs: 300 })] as const;
    try {
      const d = ok(await decider.gw.gql(LOGGED_DECISION, { u: user, s: null, c: [a, b], r: null, log: true })).decisionContext;
      const clicked = await clicker.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: user, sku: b, decisionId: d.decisionId, position: 1 }] });
      expect(clicked.errors).toBeUndefined();
      const out = ok(await clicker.gw.gql(OUTCOMES, { d: d.decisionId })).decisionOutcomes;
      expect(out.map((o: any) => [o.kind, o.sku, o.position])).toEqual([['CLICK', b, 1]]);
      // A v7 id of this very moment that no process logged: NOT_FOUND once the grace has passed, nothing written.
      const u = `${p}-ghost`;
      const ghost = uuidv7();
      const res = await clicker.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: u, sku: a, decisionId: ghost }] });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', decisionIds: [ghost] });
      expect(await eventsOf(u)).toEqual([]);
    } finally {
      await Promise.all([decider.close(), clicker.close()]);
    }
  });

  it.each([
    ['not a uuid', 'decision-1', 'events.0.decisionId'],
    ['a NUL byte', `${randomUUID().slice(0, 35)}\u0000`, 'events.0.decisionId'],
    ['too long', `${randomUUID()}0`, 'events.0.decisionId'],
    ['a 10 kB string', 'f'.repeat(10_000), 'events.0.decisionId'],
  ])('a malformed decisionId (%s) is BAD_USER_INPUT, nothing written', async (_, decisionId, field) => {
    const u = `${p}-bad-${randomUUID().slice(0, 4)}`;
    const res = await l.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: u, sku: a, decisionId }] });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await eventsOf(u)).toEqual([]);
  });

  it('a position must hold the event\'s SKU, needs a decisionId, and the decision must be the event user\'s', async () => {
    const id = await decide();
    const u = `${p}-pos`;
    const wrongSku = await l.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: user, sku: a, decisionId: id, position: 1 }] });
    expect(wrongSku.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events.0.position' });
    const beyond = await l.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: user, sku: a, decisionId: id, position: 3 }] });
    expect(beyond.errors?.[0]?.message).toMatch(/beyond its candidates/);
    // An event without a SKU (a VIEW) citing a position past the candidates: there is no candidate there either.
    for (const position of [3, 999]) {
      const viewBeyond = await l.gw.gql(RECORD, { events: [{ kind: 'VIEW', userId: user, decisionId: id, position }] });
      expect(viewBeyond.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events.0.position' });
      expect(viewBeyond.errors?.[0]?.message).toMatch(/beyond its candidates/);
    }
    const noId = await l.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: u, sku: a, position: 0 }] });
    expect(noId.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events.0.position' });
    const otherUser = await l.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: u, sku: a, decisionId: id }] });
    expect(otherUser.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events.0.decisionId' });
    expect(await eventsOf(u)).toEqual([]);
    const cited = await l.sql`select count(*)::int as n from events where decision_id = ${id}`;
    expect(cited[0]!.n).toBe(0);
  });

  it('decisionOutcomes: NOT_FOUND for a decision not in the log, BAD_USER_INPUT for a malformed id', async () => {
    const notLogged = ok(await l.gw.gql(`{ decisionContext(userId: "${user}", candidates: ["${a}"]) { decisionId logged } }`)).decisionContext;
    expect(notLogged.logged).toBe(false);
    expect((await l.gw.gql(OUTCOMES, { d: notLogged.decisionId })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await l.gw.gql(OUTCOMES, { d: 'x\u0000' })).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'decisionId' });
  });
});

describe('the attribution window', () => {
  it('counts events up to the window after the decision, not later ones; the view follows its session setting', async () => {
    const id = await decide([c]);
    ok(await l.gw.gql(RECORD, { events: [{ kind: 'CLICK', userId: user, sku: c, decisionId: id, position: 0 }] }));
    await sleep(WINDOW_S * 1000 + 500);
    ok(await l.gw.gql(RECORD, { events: [{ kind: 'PURCHASE', userId: user, sku: c, decisionId: id, position: 0 }] }));
    // Both are stored and cite the decision…
    const cited = await l.sql`select kind from events where decision_id = ${id} order by id`;
    expect(cited.map((r: any) => r.kind)).toEqual(['CLICK', 'PURCHASE']);
    // …but only the click is within the gateway's 2 s window.
    const out = ok(await l.gw.gql(OUTCOMES, { d: id })).decisionOutcomes;
    expect(out.map((o: any) => o.kind)).toEqual(['CLICK']);
    const viewWith = (win: string) => l.sql.begin(async (tx) => {
      await tx`select set_config('decision_log.attribution_window', ${win}, true)`;
      return (await tx`select kind from decision_outcomes where decision_id = ${id} order by event_id`).map((r: any) => r.kind);
    });
    expect(await viewWith(`${WINDOW_S} seconds`)).toEqual(['CLICK']);
    expect(await viewWith('1 hour')).toEqual(['CLICK', 'PURCHASE']);
  });
});
