// A session belongs to the user of its first event: nobody else can write into
// it, and a decision for another user neither shows it nor uses it for intent.
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { items, ok, RECORD, testGateway, uid, UPSERT } from './helpers.js';

const gw = testGateway();
const p = uid('sess');
const sku = `${p}-a`;
const carol = `${p}-carol`;
const SESSION = `query($u: ID!, $s: ID) { decisionContext(userId: $u, sessionId: $s, candidates: []) {
  session { id intent lastEventAt recentEvents(limit: 100) { kind sku } short: recentEvents { kind } } } }`;

const eventsIn = async (session: string) =>
  gw.sql<{ userId: string; kind: string }[]>`select user_id as "userId", kind from events where session_id = ${session} order by id`;

beforeAll(async () => {
  ok(await gw.gql(UPSERT, { items: items(p, { a: { available: 1000 } }) }));
});
afterAll(() => gw.close());

describe('sessions are their first user\'s', () => {
  it('refuses another user\'s event in the session, whole batch, with BAD_USER_INPUT', async () => {
    const s = `${p}-s1`;
    ok(await gw.gql(RECORD, { events: [{ kind: 'VIEW', userId: carol, sessionId: s, sku }] }));
    const res = await gw.gql(RECORD, { events: [
      { kind: 'VIEW', userId: `${p}-eve`, sku },
      { kind: 'ADD_TO_CART', userId: `${p}-eve`, sessionId: s, sku },
    ] });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/another user/);
    expect(await eventsIn(s)).toEqual([{ userId: carol, kind: 'VIEW' }]);
    expect((await gw.sql`select 1 from events where user_id = ${`${p}-eve`}`).length).toBe(0); // nothing of the batch
    const d = ok(await gw.gql(SESSION, { u: carol, s })).decisionContext;
    expect(d.session.intent).toBe('BROWSING');
  });

  it('refuses one batch that puts two users in one session', async () => {
    const s = `${p}-s2`;
    const res = await gw.gql(RECORD, { events: [
      { kind: 'VIEW', userId: carol, sessionId: s, sku },
      { kind: 'VIEW', userId: `${p}-mallory`, sessionId: s, sku },
    ] });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await eventsIn(s)).toEqual([]);
  });

  it('gives a new session to exactly one of two users writing its first event at once', async () => {
    for (let round = 0; round < 10; round++) {
      const s = `${p}-race${round}`;
      const users = [`${p}-u1`, `${p}-u2`];
      const results = await Promise.all(users.map((u) => gw.gql(RECORD, { events: [{ kind: 'ADD_TO_CART', userId: u, sessionId: s, sku }] })));
      const won = results.filter((r) => !r.errors);
      expect(won).toHaveLength(1);
      expect(results.find((r) => r.errors)!.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
      const [owner] = await gw.sql<{ userId: string }[]>`select user_id as "userId" from sessions where id = ${s}`;
      expect((await eventsIn(s)).map((e) => e.userId)).toEqual([owner!.userId]);
    }
  });

  it('reads another user\'s session as empty: no events, no intent, no last event, even past the prefetch', async () => {
    const s = `${p}-s3`;
    ok(await gw.gql(RECORD, { events: Array.from({ length: 25 }, () => ({ kind: 'ADD_TO_CART', userId: carol, sessionId: s, sku })) }));
    const own = ok(await gw.gql(SESSION, { u: carol, s })).decisionContext.session;
    expect(own.intent).toBe('BUYING');
    expect(own.recentEvents).toHaveLength(25);
    const other = ok(await gw.gql(SESSION, { u: `${p}-dave`, s })).decisionContext.session;
    expect(other).toEqual({ id: s, intent: 'BROWSING', lastEventAt: null, recentEvents: [], short: [] });
  });

  it('ignores other users\' events already stored in a session (written before sessions were enforced)', async () => {
    const s = `${p}-s4`;
    ok(await gw.gql(RECORD, { events: [{ kind: 'VIEW', userId: carol, sessionId: s, sku }] }));
    await gw.sql`insert into events (kind, user_id, session_id, sku, quantity) select 'ADD_TO_CART', ${`${p}-eve`}, ${s}, ${sku}, 1 from generate_series(1, 25)`;
    const d = ok(await gw.gql(SESSION, { u: carol, s })).decisionContext.session;
    expect(d.intent).toBe('BROWSING');
    expect(d.recentEvents).toEqual([{ kind: 'VIEW', sku }]);
  });
});
