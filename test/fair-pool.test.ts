// One key flooding the snapshot pool with reads must not take it from other keys: callers take turns
// for the pool's connections (a waiting decision of another key goes after one more of the flood, not
// after all of it), and one key may hold at most half of what the pool admits (the rest of its flood is
// refused OVERLOADED while another key still gets in). Orderings, not timings: a lock on `items` holds
// every read, and the statements are recorded in the order they are sent.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createKey, KeyStore } from '../src/auth/keys.js';
import { admittedNow } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { holdInTransaction, items, ownDatabase, testGateway, uid, UPSERT, type TestGateway } from './helpers.js';
import { until } from './live-helpers.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: TestGateway;
const key = {} as Record<'flood' | 'other' | 'writer', string>;
const p = uid('fair');
// poolMax 2 + queue 8: the gate admits 10, one key at most 5.
const POOL = { poolMax: 2, poolQueueMax: 8, connectTimeoutSeconds: 2, statementTimeoutMs: 10_000 };

beforeAll(async () => {
  db = await ownDatabase();
  key.flood = (await createKey(db.sql, 'reader', 'flood')).key;
  key.other = (await createKey(db.sql, 'reader', 'other')).key;
  key.writer = (await createKey(db.sql, 'writer', 'writer')).key;
  const keys = new KeyStore(db.sql, createLogger('silent'));
  await keys.reload();
  gw = testGateway({ url: db.url, pool: POOL, keys });
  const res = await as('writer', UPSERT, { items: items(p, { a: {} }) });
  expect(res.errors).toBeUndefined();
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

async function as(who: keyof typeof key, query: string, variables: Record<string, unknown> = {}) {
  const res = await gw.app.fetch('http://test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key[who]}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
}

const CATALOG = `{ catalog(search: "${p}", limit: 1) { sku } }`;
const DECIDE = `query($c: [ID!]!) { decisionContext(userId: "${p}-u", candidates: $c) { candidates { sku inventory { available } } } }`;

it('a flooding key gets half the pool\'s admissions and takes turns: another key\'s decision goes next but one, not last', async () => {
  const lock = await holdInTransaction(db.url, (tx) => tx`lock table items in access exclusive mode`);
  try {
    const mark = gw.statements.length;
    const flood = Array.from({ length: 8 }, () => as('flood', CATALOG));
    await until(() => admittedNow(gw.sql) === 5); // 2 reading (held by the lock), 3 waiting their turn
    const other = as('other', DECIDE, { c: [`${p}-a`] });
    await until(() => admittedNow(gw.sql) === 6); // another key is admitted although the flood is refused
    await lock.release();
    const answers = await Promise.all(flood);
    const refused = answers.filter((a) => a.errors?.[0]?.extensions?.code === 'OVERLOADED');
    expect(refused).toHaveLength(3);
    expect(answers.filter((a) => !a.errors)).toHaveLength(5);
    const decision = await other;
    expect(decision.errors).toBeUndefined();
    expect(decision.data.decisionContext.candidates[0].sku).toBe(`${p}-a`);
    // The order the reads went out: the flood's first two (one per connection, held by the lock); when the lock
    // went, the two keys took turns (whichever turn came first), so the other key's read went out before the
    // flood's last two. In arrival order it would have been last.
    const sent = gw.statements.slice(mark).flatMap((s) => (/ilike/.test(s) ? ['flood'] : /pg_current_snapshot/.test(s) ? ['other'] : []));
    expect(sent.filter((k) => k === 'flood')).toHaveLength(5);
    expect(sent.slice(0, 2)).toEqual(['flood', 'flood']);
    expect(sent.slice(2, 4)).toContain('other');
  } finally {
    await lock.release().catch(() => {});
  }
});
