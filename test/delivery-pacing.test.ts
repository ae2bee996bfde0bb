// One write × many subscribers is a burst of deliveries, each handed over in a microtask: unpaced, it holds
// the event loop until the last one (a 200-SKU write to 1,000 subscribers held it ~5 s, and every decision
// with it). The hub lets the loop take a turn every DELIVERY_BURST deliveries. Checked as an ordering: a
// callback queued for the loop's next turn at the first delivery runs before the burst is over.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DELIVERY_BURST, StreamEnd, type Delivery } from '../src/live/hub.js';
import { items, ownDatabase, uid, UPSERT } from './helpers.js';
import { liveGateway, post, until, type LiveGateway } from './live-helpers.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let gw: LiveGateway;
beforeAll(async () => {
  db = await ownDatabase(); // its own change log: only this test's writes reach these subscribers
  gw = await liveGateway({ livePollMs: 3_600_000 }, db.url);
});
afterAll(async () => {
  await gw.stop();
  await db.drop();
});

it('a burst of deliveries lets the event loop take turns; every subscriber still gets every change, in order', async () => {
  const SUBSCRIBERS = 40;
  const SKUS = 30; // 1,200 deliveries: several bursts
  const p = uid('burst');
  const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => gw.hub.subscribe({ topic: 'inventory', keys: null }, null)));
  let delivered = 0;
  let atFirstTurn: number | undefined;
  const seqs: number[][] = subs.map(() => []);
  const reading = subs.map(async (sub, i) => {
    for (;;) {
      const r: IteratorResult<Delivery> = await sub.next();
      if (r.done || r.value instanceof StreamEnd) return;
      if (delivered++ === 0) setImmediate(() => { atFirstTurn = delivered; });
      seqs[i]!.push(r.value.seq);
      if (seqs[i]!.length === SKUS) return;
    }
  });
  await post(gw.url, UPSERT, { items: items(p, Object.fromEntries(Array.from({ length: SKUS }, (_, k) => [`s${k}`, {}]))) });
  await until(() => delivered === SUBSCRIBERS * SKUS, 10_000);
  await Promise.all(reading);
  // The loop's next turn came after at most about one burst, not after all 1,200.
  expect(atFirstTurn).toBeDefined();
  expect(atFirstTurn!).toBeLessThanOrEqual(DELIVERY_BURST + 1);
  for (const s of seqs) {
    expect(s).toHaveLength(SKUS);
    expect(s).toEqual([...s].sort((a, b) => a - b));
    expect(s).toEqual(seqs[0]);
  }
  for (const sub of subs) await sub.return!();
});
