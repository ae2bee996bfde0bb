// Read replicas under two faults (found by a hostile review; an embedded primary and two standbys of its own):
// - a synchronous standby slow to acknowledge: an async standby's snapshot shows a commit the primary does not
//   show yet, so its cursor is ahead of the primary's feed; resuming from it must wait for it, not be refused;
// - a standby frozen (SIGSTOP: a network black hole, its server-side timeouts never fire): the other standby
//   keeps serving, and a decision carrying a consistency token is answered within its wait, not held.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import type { Sql } from '../src/db/client.js';
import type { Standby } from '../src/db/standby.js';
import { createLogger } from '../src/logger.js';
import type { ReplicaRouter } from '../src/reads/replicas.js';
import { ChangeHub } from '../src/live/hub.js';
import { logBounds } from '../src/live/changelog.js';
import { gql, items, ok, RECORD, uid, UPSERT } from './helpers.js';
import { sleep } from './live-helpers.js';
import { replicaSet, type ReplicaSet } from './replica-helpers.js';

const MAX_LAG_MS = 1000;
let set: ReplicaSet;
let sA: Standby;
let sql: Sql;
let router: ReplicaRouter;
let app: App;
let admin: postgres.Sql;
const p = uid('rfault');
const skus = Array.from({ length: 3 }, (_, i) => `${p}-${i}`);
const Q = `query($c: [ID!]!, $after: String) { decisionContext(userId: "u", candidates: $c, after: $after) {
  snapshot { cursor source lagMs } candidates { sku inventory { available } } } }`;
const decide = async (after?: string) => ok(await gql(app, Q, { c: skus, after })).decisionContext;

// SIGSTOP/SIGCONT a standby's postmaster and all its children (processes this test started).
function signalTree(s: Standby, sig: 'STOP' | 'CONT') {
  const pid = fs.readFileSync(path.join(s.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
  const kids = execFileSync('ps', ['-o', 'pid=', '--ppid', pid]).toString().split('\n').map((x) => x.trim()).filter(Boolean);
  execFileSync('kill', [`-${sig}`, pid, ...kids]);
}

beforeAll(async () => {
  set = await replicaSet('replica-faults', 2, { maxLagMs: MAX_LAG_MS, checkMs: 100 });
  ({ sql, router, admin } = set);
  sA = set.standbys[0]!;
  app = createApp({ sql, logger: createLogger('silent'), replicas: router });
  ok(await gql(app, UPSERT, { items: items(p, Object.fromEntries(skus.map((s) => [s.slice(p.length + 1), { available: 100 }]))) }));
}, 120_000);

afterAll(() => set?.close(), 60_000);

describe('read replicas under faults', () => {
  it('a replica snapshot\'s cursor ahead of the primary (a synchronous standby slow to acknowledge) resumes on the primary', async () => {
    const hub = new ChangeHub({ sql, logger: createLogger('silent'), bufferLimit: 1000, pollMs: 60_000 });
    await hub.start();
    // A synchronous standby that has not acknowledged yet (here: one that is not connected at all).
    await admin.unsafe(`alter system set synchronous_standby_names = 'ghost'`);
    await admin`select pg_reload_conf()`;
    await sleep(300);
    const pending = gql(app, RECORD, { events: [{ kind: 'PURCHASE', userId: `${p}-b`, sku: skus[0], quantity: 2 }] });
    let d: any;
    const deadline = Date.now() + 10_000;
    for (;;) {
      d = await decide();
      if (d.snapshot.source === 'REPLICA' && d.candidates[0].inventory.available === 98) break;
      if (Date.now() > deadline) throw new Error('standby never showed the write');
      await sleep(50);
    }
    const head = (await logBounds(sql)).head;
    let err: unknown;
    // The sync standby acknowledges 300 ms later (a slow one, not a dead one).
    const ack = sleep(300).then(async () => { await admin.unsafe(`alter system reset synchronous_standby_names`); await admin`select pg_reload_conf()`; });
    try { await hub.subscribe({ topic: 'inventory', keys: null }, d.snapshot.cursor); } catch (e) { err = e; }
    await ack;
    await admin.unsafe(`alter system reset synchronous_standby_names`);
    await admin`select pg_reload_conf()`;
    ok(await pending);
    await hub.stop();
    expect(Number(d.snapshot.cursor)).toBeGreaterThan(head);
    expect(err).toBeUndefined(); // the cursor stays valid to resume a subscription on the primary
  }, 30_000);

  it('a frozen standby: the other keeps serving, and a decision with a consistency token is not held', async () => {
    // Both eligible, and A's pool warm.
    const deadline = Date.now() + 10_000;
    while (!router.replicas.every((r) => router.lagOf(r) < MAX_LAG_MS - 100)) {
      if (Date.now() > deadline) throw new Error('replicas not eligible'); await sleep(50);
    }
    await router.replicas[0]!.sql`select 1`;
    await router.replicas[1]!.sql`select 1`;
    signalTree(sA, 'STOP');
    try {
      // A write, its token, then a decision with it: the token's wait is "up to 50 ms".
      const res = await app.fetch('http://test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: RECORD, variables: { events: [{ kind: 'PURCHASE', userId: `${p}-c`, sku: skus[1], quantity: 1 }] } }) });
      const token = ((await res.json()) as any).extensions.consistencyToken as string;
      const outcome = await Promise.race([decide(token).then((x) => `answered ${x.snapshot.source}`), sleep(4000).then(() => 'still pending after 4 s')]);
      await sleep(1500);
      // B is healthy and caught up: it keeps serving.
      const sources: string[] = [];
      for (let i = 0; i < 10; i++) sources.push((await decide()).snapshot.source);
      expect(outcome).not.toBe('still pending after 4 s');
      expect(sources.filter((s) => s === 'REPLICA').length).toBeGreaterThan(5);
    } finally {
      signalTree(sA, 'CONT');
    }
  }, 40_000);
});
