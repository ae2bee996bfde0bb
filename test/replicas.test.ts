// Read replicas against a real streaming hot standby: an embedded primary and a standby of its own (replica-helpers.ts).
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import type { Sql } from '../src/db/client.js';
import type { Standby } from '../src/db/standby.js';
import { createLogger } from '../src/logger.js';
import { ReplicaRouter, replicaStats } from '../src/reads/replicas.js';
import { withDatabase } from './global-setup.js';
import { gql, items, ok, RECORD, uid, UPSERT } from './helpers.js';
import { sleep } from './live-helpers.js';
import { replicaSet, type ReplicaSet } from './replica-helpers.js';

const MAX_LAG_MS = 400;
const CHECK_MS = 100;
const INITIAL = 100_000;

let set: ReplicaSet;
let standby: Standby;
let sql: Sql;
let router: ReplicaRouter;
let app: App;
let plain: App;

const p = uid('repl');
const skus = Array.from({ length: 6 }, (_, i) => `${p}-${i}`);
const Q = `query($c: [ID!]!) { decisionContext(userId: "u", candidates: $c) {
  snapshot { id cursor source lagMs } candidates { sku inventory { available } velocity { salesLast5m } } } }`;
type Decision = { snapshot: { id: string; cursor: string; source: 'PRIMARY' | 'REPLICA'; lagMs: number };
  candidates: { sku: string; inventory: { available: number }; velocity: { salesLast5m: number } }[] };
const decide = async (a: App = app): Promise<Decision> => ok(await gql(a, Q, { c: skus })).decisionContext;

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  set = await replicaSet('replica-test', 1, { maxLagMs: MAX_LAG_MS, checkMs: CHECK_MS });
  ({ sql, router, standbys: [standby] } = set as ReplicaSet & { standbys: [Standby] });
  app = createApp({ sql, logger: createLogger('silent'), replicas: router });
  plain = createApp({ sql, logger: createLogger('silent') });
  ok(await gql(plain, UPSERT, { items: items(p, Object.fromEntries(skus.map((s) => [s.slice(p.length + 1), { available: INITIAL }]))) }));
}, 120_000);

afterAll(() => set?.close(), 60_000);

const buy = (sku: string, quantity = 1) =>
  gql(app, RECORD, { events: [{ kind: 'PURCHASE', userId: `${p}-buyer`, sku, quantity }] }).then(ok);

describe('read replicas', () => {
  it('without replicas a decision reads the primary: source PRIMARY, lagMs 0', async () => {
    const d = await decide(plain);
    expect(d.snapshot).toMatchObject({ source: 'PRIMARY', lagMs: 0 });
  });

  it('routes decisions to the standby (REPLICA, lagMs within the bound), writes to the primary; the cursor resumes on the primary', async () => {
    await waitFor('the standby to be eligible', async () => (await decide()).snapshot.source === 'REPLICA');
    await buy(skus[0]!, 3); // a mutation through the replica-enabled app: the primary
    let d!: Decision;
    // Until the standby has replayed it, a decision may come from the primary (lag past the budget on a loaded box)
    // or from a standby that does not hold the items yet (inventory null: stale within the bound).
    await waitFor('the write to be replayed', async () => {
      d = await decide();
      return d.snapshot.source === 'REPLICA' && d.candidates[0]!.inventory?.available === INITIAL - 3;
    });
    expect(d.snapshot.source).toBe('REPLICA');
    expect(d.snapshot.lagMs).toBeGreaterThanOrEqual(0);
    expect(d.snapshot.lagMs).toBeLessThanOrEqual(MAX_LAG_MS);
    const [head] = await sql<{ head: string }[]>`select coalesce(max(seq), 0)::text as head from change_log`;
    expect(Number(d.snapshot.cursor)).toBeLessThanOrEqual(Number(head!.head));
    expect(Number(d.snapshot.cursor)).toBeGreaterThan(0);
    // One after another: 20 at once on a saturated box queue for the CPU past the budget, and a snapshot whose
    // bound passes it is rightly re-routed to the primary (the stale re-route test covers that).
    const sources: string[] = [];
    for (let i = 0; i < 20; i++) sources.push((await decide()).snapshot.source);
    expect(sources.filter((s) => s === 'REPLICA').length).toBeGreaterThanOrEqual(15);
  });

  it('consistency on the standby: available + salesLast5m = initial per SKU under a concurrent purchase stream', async () => {
    let done = false;
    let purchases = 0;
    const buyers = [0, 1].map(async (w) => {
      for (let i = 0; !done; i++) { await buy(skus[(w * 3 + i) % skus.length]!, 1 + (i % 3)); purchases++; }
    });
    const tears: string[] = [];
    let replicaReads = 0;
    let reads = 0;
    const readers = [0, 1, 2].map(async () => {
      while (!done) {
        const d = await decide();
        reads++;
        if (d.snapshot.source === 'REPLICA') replicaReads++;
        for (const c of d.candidates) {
          if (c.inventory.available + c.velocity.salesLast5m !== INITIAL) tears.push(`${c.sku} ${c.inventory.available}+${c.velocity.salesLast5m}`);
        }
      }
    });
    // At least 3 s and 30 purchases (a loaded machine commits fewer per second): the stream must really run.
    await sleep(3000);
    await waitFor('30 purchases', async () => purchases >= 30, 30_000);
    done = true;
    await Promise.all([...buyers, ...readers]);
    console.log(`replica consistency: ${reads} decisions (${replicaReads} on the standby), ${purchases} purchases on the primary`);
    expect(tears).toEqual([]);
    expect(purchases).toBeGreaterThanOrEqual(30);
    expect(replicaReads).toBeGreaterThan(reads / 2);
  });

  // Deterministic, whatever the machine's load: the bound is fixed when each snapshot is taken, and a replica
  // snapshot over the budget is answered again on the primary (stale re-route), so timing decides only where an
  // answer comes from, never whether its lagMs passes the bound.
  it('replay paused: decisions leave the standby once its lag bound passes the budget; no answer reports lagMs above it', async () => {
    await waitFor('the standby to be eligible', async () => (await decide()).snapshot.source === 'REPLICA');
    const ctl = postgres(standby.url, { max: 1, onnotice: () => {} });
    let done = false;
    const answers: { started: number; source: string; lagMs: number }[] = [];
    try {
      await ctl`select pg_wal_replay_pause()`;
      // The first commit the standby will not have: no check can place the standby's bound at or after it (a
      // primary sample taken later is past the paused replay position), so a snapshot taken more than MAX_LAG_MS
      // after it is over the budget.
      await buy(skus[0]!);
      const wroteAt = performance.now();
      const writer = (async () => { for (let i = 1; !done; i++) { await buy(skus[i % skus.length]!); await sleep(10); } })();
      const readers = [0, 1].map(async () => {
        while (!done) {
          const started = performance.now() - wroteAt;
          const d = await decide();
          answers.push({ started, source: d.snapshot.source, lagMs: d.snapshot.lagMs });
        }
      });
      await sleep(MAX_LAG_MS + 1500);
      done = true;
      await Promise.all([writer, ...readers]);
      const replica = answers.filter((a) => a.source === 'REPLICA');
      const lastReplica = Math.max(0, ...replica.map((a) => a.started));
      const maxLag = Math.max(...answers.map((a) => a.lagMs));
      console.log(`replay paused: ${replica.length} REPLICA answers, the last started ${lastReplica.toFixed(0)} ms after the first unreplayed commit; `
        + `max lagMs ${maxLag}, ${answers.length} answers`);
      expect(maxLag).toBeLessThanOrEqual(MAX_LAG_MS);
      const late = answers.filter((a) => a.started > MAX_LAG_MS);
      expect(late.length).toBeGreaterThan(10);
      expect(late.filter((a) => a.source !== 'PRIMARY' || a.lagMs !== 0)).toEqual([]);
    } finally {
      done = true;
      await ctl`select pg_wal_replay_resume()`;
      await ctl.end();
    }
    await waitFor('the standby to catch up and serve again', async () => (await decide()).snapshot.source === 'REPLICA');
  });

  it('a decision routed to the standby within the budget but whose snapshot is taken past it is answered on the primary, fresh', async () => {
    // A router of its own: one connection to the standby (so a decision can be made to wait for it) and no timer
    // (its bound rests on the one check this test runs). Budget 2 s, so that routing surely happens within it.
    const budget = 2000;
    const solo = new ReplicaRouter(sql, [withDatabase(standby.url, 'gw_replica')], {
      maxLagMs: budget, checkMs: 3_600_000, sqlConfig: { poolMax: 1, connectTimeoutSeconds: 1, statementTimeoutMs: 10_000 },
    });
    await solo.start();
    const soloApp = createApp({ sql, logger: createLogger('silent'), replicas: solo });
    const ctl = postgres(standby.url, { max: 1, onnotice: () => {} });
    const standbyReplica = solo.replicas[0]!;
    try {
      await waitFor('a check to find the standby caught up', async () => { await solo.check(); return solo.pick() === standbyReplica; });
      await ctl`select pg_wal_replay_pause()`;
      const before = (await decide(plain)).candidates[1]!.inventory.available;
      await buy(skus[1]!, 2); // committed after the pause: the standby's snapshots miss it
      const rerouted = replicaStats.staleReroutes;
      // Hold the standby's only connection past the budget, then ask: routed to the standby (its bound is still
      // within the budget), the snapshot can only be taken once the connection is free, past the budget.
      const hold = standbyReplica.sql`select pg_sleep(${(budget + 300) / 1000})`.execute();
      expect(solo.pick()).toBe(standbyReplica);
      const d = await decide(soloApp);
      await hold;
      console.log(`stale re-route: answered from ${d.snapshot.source}, lagMs ${d.snapshot.lagMs}, re-routes ${replicaStats.staleReroutes - rerouted}`);
      expect(d.candidates[1]!.inventory.available).toBe(before - 2);
      expect(d.snapshot.lagMs).toBeLessThanOrEqual(budget);
      expect(d.snapshot).toMatchObject({ source: 'PRIMARY', lagMs: 0 });
      expect(replicaStats.staleReroutes - rerouted).toBe(1);
    } finally {
      await ctl`select pg_wal_replay_resume()`;
      await ctl.end();
      await solo.stop();
    }
  });

  it('read-your-writes: 200 write → decision-with-token pairs are never stale (the token as a header, an argument, in fragments, as a variable default); without it some are', async () => {
    await waitFor('the standby to be eligible', async () => (await decide()).snapshot.source === 'REPLICA');
    // Replay 20 ms behind (within the lag budget): a decision right after a write would miss it on the standby.
    const ctl = postgres(standby.url, { max: 1, onnotice: () => {} });
    await ctl`alter system set recovery_min_apply_delay = '20ms'`;
    await ctl`select pg_reload_conf()`;
    const sku = skus[5]!;
    type Mode = 'header' | 'after' | 'inline' | 'named' | 'default' | 'none';
    const FIELD = `decisionContext(userId: "u", candidates: $c, after: $t) { snapshot { source lagMs } candidates { inventory { available } } }`;
    // Where the token sits: the router must find it in every shape the field can take.
    const documentFor = (mode: Mode, token: string) => ({
      header: `query($c: [ID!]!, $t: String) { ${FIELD} }`,
      after: `query($c: [ID!]!, $t: String) { ${FIELD} }`,
      none: `query($c: [ID!]!, $t: String) { ${FIELD} }`,
      inline: `query($c: [ID!]!, $t: String) { ... on Query { ${FIELD} } }`,
      named: `query($c: [ID!]!, $t: String) { ...D } fragment D on Query { ${FIELD} }`,
      default: `query($c: [ID!]!, $t: String = "${token}") { ${FIELD} }`,
    })[mode];
    const pair = async (mode: Mode) => {
      const res = await app.fetch('http://test/graphql', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: RECORD, variables: { events: [{ kind: 'PURCHASE', userId: `${p}-ryw`, sku, quantity: 1 }] } }),
      });
      const body = (await res.json()) as any;
      const token: string = body.extensions.consistencyToken;
      expect(res.headers.get('x-consistency-token')).toBe(token);
      const written: number = body.data.recordEvents.stock[0].available;
      const variables = mode === 'default' ? { c: [sku] } : { c: [sku], t: mode === 'header' || mode === 'none' ? null : token };
      const r = await app.fetch('http://test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(mode === 'header' ? { 'x-consistency-token': token } : {}) },
        body: JSON.stringify({ query: documentFor(mode, token), variables }),
      });
      const d = ((await r.json()) as any).data.decisionContext;
      return { stale: d.candidates[0].inventory.available !== written, source: d.snapshot.source as string };
    };
    try {
      const withToken: { stale: boolean; source: string }[] = [];
      const modes: Mode[] = ['header', 'after', 'inline', 'named', 'default'];
      for (let i = 0; i < 200; i++) withToken.push(await pair(modes[i % modes.length]!));
      const without: { stale: boolean; source: string }[] = [];
      for (let i = 0; i < 100; i++) without.push(await pair('none'));
      const n = (xs: typeof without, f: (x: (typeof without)[0]) => boolean) => xs.filter(f).length;
      console.log(`read-your-writes: with token ${n(withToken, (x) => x.stale)}/200 stale (${n(withToken, (x) => x.source === 'REPLICA')} on the standby); `
        + `without ${n(without, (x) => x.stale)}/100 stale`);
      expect(n(withToken, (x) => x.stale)).toBe(0);
      expect(n(withToken, (x) => x.source === 'REPLICA')).toBeGreaterThan(100);
      expect(n(without, (x) => x.stale)).toBeGreaterThan(0);
    } finally {
      await ctl`alter system reset recovery_min_apply_delay`;
      await ctl`select pg_reload_conf()`;
      await ctl.end();
    }
    for (const doc of [`{ decisionContext(userId: "u", candidates: [], after: "nope") { snapshot { id } } }`,
      `{ ...F } fragment F on Query { decisionContext(userId: "u", candidates: [], after: "nope") { snapshot { id } } }`]) {
      expect((await gql(app, doc)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('standby killed under load: zero failed decisions, reads fall back to the primary, then return when it is back', async () => {
    await waitFor('the standby to be eligible', async () => (await decide()).snapshot.source === 'REPLICA');
    const retriesBefore = replicaStats.retries;
    let done = false;
    let killedAt = Infinity;
    const failures: string[] = [];
    const answers: { t: number; source: string }[] = [];
    const loops = [0, 1, 2, 3].map(async () => {
      while (!done) {
        const res = await gql(app, Q, { c: skus });
        if (res.errors?.length || !res.data) failures.push(JSON.stringify(res.errors));
        else answers.push({ t: performance.now(), source: res.data.decisionContext.snapshot.source });
      }
    });
    await sleep(500);
    killedAt = performance.now();
    await standby.kill();
    await sleep(1500);
    done = true;
    await Promise.all(loops);
    const before = answers.filter((a) => a.t < killedAt);
    const after = answers.filter((a) => a.t > killedAt + 500);
    console.log(`standby killed: ${answers.length} decisions, ${failures.length} failed, ${replicaStats.retries - retriesBefore} retried`);
    expect(failures).toEqual([]);
    expect(before.some((a) => a.source === 'REPLICA')).toBe(true);
    expect(after.length).toBeGreaterThan(10);
    expect(after.every((a) => a.source === 'PRIMARY')).toBe(true);

    await standby.restart();
    await waitFor('the restarted standby to serve again', async () => (await decide()).snapshot.source === 'REPLICA', 20_000);
  });
});
