// Per-key rate limits through the real server, on every transport: POST, GET,
// batched POST (each operation counts), SSE and graphql-ws (each subscribe
// counts); another key unaffected; a key's own limit wins over its role's; two
// gateway processes on one database share the counters; Retry-After present
// and within the window. Limits are per minute so no window rolls over mid-test.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, setKeyRateLimit, type Role } from '../src/auth/keys.js';
import { parseRateLimits } from '../src/auth/rate-limits.js';
import { ownDatabase } from './helpers.js';
import { liveGateway, sleep, type LiveGateway } from './live-helpers.js';
import { rawSocket, sseAs, within } from './raw-clients.js';

const LIMITS = parseRateLimits('reader=5/m,subscriber=3/m,writer=2/m:burst4');
const DECISION = '{ decisionContext(userId: "rl-u", candidates: ["rl-a"]) { candidates { sku eligible } } }';
const SUB = 'subscription { inventoryChanged(skus: ["rl-a"]) { cursor } }';
const WRITE = 'mutation { setFulfillment(region: "rl-r", congestion: 0.5) { region } }';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
let gw2: LiveGateway; // a second gateway process on the same database

beforeAll(async () => {
  db = await ownDatabase();
  [gw, gw2] = await Promise.all([liveGateway({ rateLimits: LIMITS }, db.url), liveGateway({ rateLimits: LIMITS }, db.url)]);
});
afterAll(async () => {
  await Promise.all([gw?.stop(), gw2?.stop()]);
  await db?.drop();
});

/** A fresh key of `roles` (each test its own, so counters never carry over), loaded by both gateways. */
async function newKey(roles: Role[], rateLimit: string | null = null): Promise<{ id: string; auth: Record<string, string> }> {
  const { id, key } = await createKey(gw.sql, roles, `rl ${roles.join(',')}`, rateLimit);
  await Promise.all([gw.keys.reload(), gw2.keys.reload()]);
  return { id, auth: { authorization: `Bearer ${key}` } };
}

interface Answer { status: number; retryAfter: string | null; body: any }
async function answer(res: Response): Promise<Answer> {
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}
const post = async (url: string, auth: Record<string, string>, query = DECISION) => answer(await fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...auth }, body: JSON.stringify({ query }),
}));
const get = async (url: string, auth: Record<string, string>) =>
  answer(await fetch(`${url}?${new URLSearchParams({ query: DECISION })}`, { headers: { accept: 'application/graphql-response+json', ...auth } }));
const codes = (a: Answer) => (a.body.errors ?? []).map((e: any) => e.extensions?.code);

/** A refusal: 429, Retry-After a whole number of seconds within the one-minute window, and the same in extensions. */
function expectLimited(a: Answer) {
  expect(a.status).toBe(429);
  expect(codes(a)).toEqual(['RATE_LIMITED']);
  expect(a.retryAfter).toMatch(/^\d+$/);
  const s = Number(a.retryAfter);
  expect(s).toBeGreaterThanOrEqual(1);
  expect(s).toBeLessThanOrEqual(60);
  expect(a.body.errors[0].extensions.retryAfterSeconds).toBe(s);
}

describe('HTTP', () => {
  it('POST: a reader key gets 5 operations a minute, the 6th is 429 RATE_LIMITED with Retry-After; another key is unaffected', async () => {
    const a = await newKey(['reader']);
    const b = await newKey(['reader']);
    for (let i = 0; i < 5; i++) expect((await post(gw.url, a.auth)).status).toBe(200);
    expectLimited(await post(gw.url, a.auth));
    expectLimited(await post(gw.url, a.auth));
    const other = await post(gw.url, b.auth);
    expect(other.status).toBe(200);
    expect(other.body.errors).toBeUndefined();
  });

  it('GET counts against the same key as POST', async () => {
    const a = await newKey(['reader']);
    for (let i = 0; i < 3; i++) expect((await post(gw.url, a.auth)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(gw.url, a.auth)).status).toBe(200);
    expectLimited(await get(gw.url, a.auth));
  });

  it('a batch counts each of its operations: a batch of 7 gets 5 answers and 2 RATE_LIMITED', async () => {
    const a = await newKey(['reader']);
    const res = await fetch(gw.url, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...a.auth },
      body: JSON.stringify(Array.from({ length: 7 }, () => ({ query: DECISION }))),
    });
    const body = (await res.json()) as any[];
    const limited = body.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(body.filter((r) => r.data?.decisionContext && !r.errors)).toHaveLength(5);
    expect(limited).toHaveLength(2);
    expect(limited[0].errors[0].extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expectLimited(await post(gw.url, a.auth)); // and the key is spent
  });

  it('burst: writer=2/m:burst4 lets a quiet key run 4 at once, then refuses', async () => {
    const w = await newKey(['writer']);
    for (let i = 0; i < 4; i++) {
      const r = await post(gw.url, w.auth, WRITE);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    expectLimited(await post(gw.url, w.auth, WRITE));
  });
});

describe('operations that fail before execution', () => {
  // Parse and validation are most of an operation's CPU; a document that fails them never reached execute,
  // where the limit was counted, so a spent key could go on sending them without limit.
  const BROKEN = [
    '{ decisionContext(userId: "rl-u", candidates: ["rl-a"]) { candidates { sku nope } } }', // validation
    '{ decisionContext(', // parse
  ];
  it('POST, GET and batches: documents that fail to parse or validate count too, and past the limit get RATE_LIMITED', async () => {
    const a = await newKey(['reader']);
    for (let i = 0; i < 5; i++) {
      const r = await post(gw.url, a.auth, BROKEN[i % 2]);
      expect(codes(r)[0]).toMatch(/GRAPHQL_(VALIDATION|PARSE)_FAILED/);
    }
    expectLimited(await post(gw.url, a.auth, BROKEN[0]));
    expectLimited(await post(gw.url, a.auth)); // and a good one, too: the key is spent
    const g = await newKey(['reader']);
    const res = await fetch(gw.url, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...g.auth },
      body: JSON.stringify(Array.from({ length: 7 }, (_, i) => ({ query: BROKEN[i % 2] }))),
    });
    const body = (await res.json()) as any[];
    expect(body.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED')).toHaveLength(2);
    expectLimited(await get(gw.url, g.auth));
  });

  it('graphql-ws: a subscribe whose document fails validation counts, the socket stays open', async () => {
    const s = await newKey(['subscriber']);
    const socket = await rawSocket(gw.wsUrl);
    try {
      await socket.init(s.auth);
      for (const id of ['1', '2', '3']) {
        socket.subscribe(id, 'subscription { inventoryChanged(skus: ["rl-a"]) { nope } }');
        const refused = await socket.waitFor((m) => m.id === id && m.type === 'error');
        expect(refused.payload[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      }
      socket.subscribe('4', SUB);
      const fourth = await socket.waitFor((m) => m.id === '4' && m.type === 'error');
      expect(fourth.payload[0].extensions.code).toBe('RATE_LIMITED');
      expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    } finally {
      socket.close();
    }
  });
});

describe('per-key limit', () => {
  it('a key\'s own limit wins over its role\'s, lower or higher, and changing it applies at once', async () => {
    const low = await newKey(['reader'], '2/m');
    for (let i = 0; i < 2; i++) expect((await post(gw.url, low.auth)).status).toBe(200);
    expectLimited(await post(gw.url, low.auth));

    const high = await newKey(['reader'], '8/m');
    for (let i = 0; i < 8; i++) expect((await post(gw.url, high.auth)).status).toBe(200);
    expectLimited(await post(gw.url, high.auth));

    // Set on a key already in use (as `npm run keys -- rate-limit <id> <spec>` does).
    const later = await newKey(['reader']);
    expect(await setKeyRateLimit(gw.sql, later.id, '1/m')).toBe(true);
    await gw.keys.reload();
    expect((await post(gw.url, later.auth)).status).toBe(200);
    expectLimited(await post(gw.url, later.auth));
  });
});

describe('a key with several roles', () => {
  it('gets the most generous of its roles\' limits (reader 5/m over writer 2/m), one counter for all its operations', async () => {
    const k = await newKey(['reader', 'writer']);
    for (let i = 0; i < 3; i++) expect((await post(gw.url, k.auth, WRITE)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await post(gw.url, k.auth)).status).toBe(200);
    expectLimited(await post(gw.url, k.auth));
    expectLimited(await post(gw.url, k.auth, WRITE));
  });
});

describe('shared between gateway processes', () => {
  it('two gateways on one database: 5 operations in all, whichever gateway answers', async () => {
    const a = await newKey(['reader']);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await post(i % 2 ? gw2.url : gw.url, a.auth)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expectLimited(await post(gw2.url, a.auth));
  });
});

describe('subscriptions', () => {
  it('SSE: each subscribe counts; the 4th of a subscriber key gets RATE_LIMITED', async () => {
    const s = await newKey(['subscriber']);
    const open = Array.from({ length: 3 }, () => sseAs(gw.url, s.auth, SUB));
    expect(await Promise.all(open.map((o) => o.status))).toEqual([200, 200, 200]);
    const fourth = await fetch(gw.url, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...s.auth }, body: JSON.stringify({ query: SUB }),
    });
    const text = await within(fourth.text(), 5000, 'the refused SSE answer');
    expect(text).toContain('RATE_LIMITED');
    for (const o of open) { expect(o.errors).toEqual([]); o.close(); }
  });

  it('graphql-ws: each subscribe counts; of 4 at once exactly one gets RATE_LIMITED, the socket and the others stay open', async () => {
    const s = await newKey(['subscriber']);
    const socket = await rawSocket(gw.wsUrl);
    try {
      await socket.init(s.auth);
      for (const id of ['1', '2', '3', '4']) socket.subscribe(id, SUB);
      // Refused before its document is parsed: graphql-ws' error message for that id.
      const refused = await socket.waitFor((m) => m.type === 'error');
      expect(refused.payload[0].extensions.code).toBe('RATE_LIMITED');
      expect(refused.payload[0].extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(refused.payload[0].extensions.http).toBeUndefined();
      await sleep(300);
      const others = ['1', '2', '3', '4'].filter((id) => id !== refused.id);
      expect(socket.messages.filter((m) => m.payload?.errors || m.type === 'error')).toHaveLength(1);
      for (const id of others) expect(socket.count(id, 'complete')).toBe(0); // still subscribed
      expect(socket.ws.readyState).toBe(socket.ws.OPEN);
      socket.subscribe('5', SUB); // and the key stays spent
      const fifth = await socket.waitFor((m) => m.id === '5' && m.type === 'error');
      expect(fifth.payload[0].extensions.code).toBe('RATE_LIMITED');
    } finally {
      socket.close();
    }
  });
});

const REDIS_URL = process.env.RATE_LIMIT_REDIS_URL || 'redis://127.0.0.1:6379';
const redisUp = await new Promise<boolean>((resolve) => {
  const u = new URL(REDIS_URL);
  const s = net.connect(Number(u.port || 6379), u.hostname, () => { s.end(); resolve(true); });
  s.on('error', () => resolve(false));
  s.setTimeout(500, () => { s.destroy(); resolve(false); });
});

describe('Redis store (RATE_LIMIT_REDIS_URL)', () => {
  it.skipIf(!redisUp)('two gateways counting in Redis share the limit, counted in Redis (none in Postgres)', async () => {
    const pair = await Promise.all([0, 1].map(() => liveGateway({ rateLimits: LIMITS, rateLimitRedisUrl: REDIS_URL }, db.url)));
    try {
      const a = await newKey(['reader']);
      await Promise.all(pair.map((g) => g.keys.reload()));
      await sleep(200); // connected
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await post(pair[i % 2]!.url, a.auth)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      // Not counted in Postgres: the Redis store did it.
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from rate_limit_buckets where key like ${'%' + a.id}`;
      expect(row!.n).toBe(0);
    } finally {
      await Promise.all(pair.map((g) => g.stop()));
    }
  });
});

describe('store down', () => {
  it('with RATE_LIMIT_REDIS_URL unreachable the gateway starts and each process still limits on its own, counting store errors', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => { const p = (probe.address() as net.AddressInfo).port; probe.close(() => resolve(p)); });
    });
    const lonely = await liveGateway({ rateLimits: LIMITS, rateLimitRedisUrl: `redis://127.0.0.1:${port}` }, db.url);
    try {
      const a = await newKey(['reader']);
      await lonely.keys.reload();
      for (let i = 0; i < 5; i++) expect((await post(lonely.url, a.auth)).status).toBe(200);
      expectLimited(await post(lonely.url, a.auth));
      const metrics = await (await fetch(lonely.url.replace('/graphql', '/metrics'))).text();
      expect(Number(/^gateway_rate_limit_store_errors_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
    } finally {
      await lonely.stop();
    }
  });
});

describe('RATE_LIMITS', () => {
  it('parses role=N/s|N/m[:burstM], * for the rest; a bad entry or unknown role fails the start naming it', () => {
    expect([...parseRateLimits(' reader=200/s:burst400, writer=50/s,*=3/m ')]).toEqual([
      ['reader', { text: '200/s:burst400', rate: 200, per: 1, burst: 400 }],
      ['writer', { text: '50/s', rate: 50, per: 1, burst: 50 }],
      ['*', { text: '3/m', rate: 3, per: 60, burst: 3 }],
    ]);
    expect(parseRateLimits('').size).toBe(0);
    for (const bad of ['reader=5', 'reader=0/s', 'reader=10/s:burst5', 'reader=1/h', 'readr=1/s', 'reader']) {
      expect(() => parseRateLimits(bad), bad).toThrow(/RATE_LIMITS/);
    }
  });
});
