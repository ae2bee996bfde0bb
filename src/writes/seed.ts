// The demo data set (README "Demo data"): loaded into a fresh embedded
// database at first start, or on demand with `npm run seed`. Idempotent.
import type { Sql } from '../db/client.js';
import { recordEvents } from './events.js';
import { upsertItems } from './items.js';
import { setFulfillment, setPolicyFlag } from './policy.js';

const item = (sku: string, title: string, category: string, priceMinor: number, available: number) =>
  ({ sku, title, category, priceMinor, currency: 'EUR', available });

export const DEMO_ITEMS = [
  item('sku-espresso', 'Espresso machine', 'kitchen', 24900, 40),
  item('sku-grinder', 'Burr grinder', 'kitchen', 8900, 25),
  item('sku-kettle', 'Gooseneck kettle', 'kitchen', 5900, 0),
  item('sku-mug', 'Stoneware mug', 'kitchen', 1400, 300),
  item('sku-headphones', 'Noise-cancelling headphones', 'audio', 29900, 12),
  item('sku-speaker', 'Bluetooth speaker', 'audio', 7900, 60),
  item('sku-turntable', 'Turntable', 'audio', 34900, 5),
  item('sku-tent', 'Two-person tent', 'outdoor', 19900, 18),
  item('sku-stove', 'Camping stove', 'outdoor', 4900, 33),
  item('sku-lantern', 'LED lantern', 'outdoor', 2900, 75),
  item('sku-drone', 'Camera drone', 'gadgets', 59900, 9),
  item('sku-powerbank', 'Power bank', 'gadgets', 3900, 150),
];

export async function seedDemo(sql: Sql): Promise<void> {
  await upsertItems(sql, DEMO_ITEMS);
  await sql`
    insert into users (id, segment) values ('u-alice', 'loyal'), ('u-bob', 'new'), ('u-mallory', 'new')
    on conflict (id) do update set segment = excluded.segment`;
  const inTwoHours = new Date(Date.now() + 2 * 3600_000);
  await setFulfillment(sql, 'berlin', inTwoHours, 0.35, 120);
  await setFulfillment(sql, 'paris', null, 0.9, 0);
  await setPolicyFlag(sql, 'SKU', 'sku-drone', 'QUALITY_HOLD', true, 'battery recall under review');
  await setPolicyFlag(sql, 'CATEGORY', 'outdoor', 'RISK_GATE', false, null);
  await setPolicyFlag(sql, 'USER', 'u-mallory', 'FRAUD', true, 'chargeback pattern');
  // Only on a database without demo events: a second seed must not sell more stock.
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from events where user_id like 'u-%'`;
  if (row!.n > 0) return;
  await recordEvents(sql, [
    { kind: 'VIEW', userId: 'u-alice', sessionId: 's-alice-1', sku: 'sku-espresso', quantity: 1 },
    { kind: 'CLICK', userId: 'u-alice', sessionId: 's-alice-1', sku: 'sku-espresso', quantity: 1 },
    { kind: 'VIEW', userId: 'u-alice', sessionId: 's-alice-1', sku: 'sku-grinder', quantity: 1 },
    { kind: 'PURCHASE', userId: 'u-alice', sessionId: 's-alice-0', sku: 'sku-mug', quantity: 2 },
    { kind: 'VIEW', userId: 'u-bob', sessionId: 's-bob-1', sku: 'sku-headphones', quantity: 1 },
    { kind: 'ADD_TO_CART', userId: 'u-bob', sessionId: 's-bob-1', sku: 'sku-headphones', quantity: 1 },
  ]);
}
