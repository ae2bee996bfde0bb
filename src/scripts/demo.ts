// `npm run demo`: a flash sale against a running gateway, so the live board
// (/live) moves — purchases and clicks on a few hot demo SKUs, restocks after
// a sell-out, quality holds set and lifted. GATEWAY_URL (default
// http://localhost:4000/graphql), GATEWAY_KEY (a writer or admin key when
// authentication is on), DEMO_SECONDS (default 120).
import { DEMO_ITEMS } from '../db/seed.js';

const url = process.env.GATEWAY_URL || 'http://localhost:4000/graphql';
const key = process.env.GATEWAY_KEY;
const seconds = Number(process.env.DEMO_SECONDS || 120);
const hot = ['sku-espresso', 'sku-headphones', 'sku-turntable', 'sku-drone', 'sku-tent'];
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

const end = Date.now() + seconds * 1000;
let purchases = 0;
let refused = 0;
let flips = 0;
const soldOutAt = new Map<string, number>();
console.log(`demo flash sale on ${url} for ${seconds} s — open ${url.replace('/graphql', '/live')}`);
for (let tick = 0; Date.now() < end; tick++) {
  const sku = pick(hot);
  const res = await gql('mutation($e: [EventInput!]!) { recordEvents(events: $e) { stock { sku available } } }', {
    e: [
      { kind: 'CLICK', userId: `shopper-${tick % 40}`, sessionId: `demo-${tick % 40}`, sku: pick(DEMO_ITEMS).sku },
      { kind: 'PURCHASE', userId: `shopper-${tick % 40}`, sessionId: `demo-${tick % 40}`, sku, quantity: 1 + (tick % 2) },
    ],
  });
  if (res.errors?.[0]?.extensions?.code === 'INSUFFICIENT_STOCK') {
    refused++;
    if (!soldOutAt.has(sku)) soldOutAt.set(sku, Date.now());
  } else if (res.errors) {
    console.error(res.errors[0]!.message);
    process.exit(1);
  } else {
    purchases++;
  }
  for (const [s, at] of soldOutAt) {
    if (Date.now() - at > 10_000) { // restock 10 s after a sell-out
      await gql('mutation($s: ID!) { setInventory(sku: $s, available: 30) { available } }', { s });
      soldOutAt.delete(s);
    }
  }
  if (tick % 25 === 0) {
    const target = pick(DEMO_ITEMS).sku;
    const active = tick % 50 === 0;
    await gql('mutation($t: ID!, $a: Boolean!) { setPolicyFlag(scope: SKU, target: $t, kind: QUALITY_HOLD, active: $a, reason: "demo inspection") { active } }',
      { t: target, a: active });
    flips++;
  }
  await sleep(200);
}
console.log(`done: ${purchases} purchase batches, ${refused} refused (sold out), ${flips} flag writes`);
