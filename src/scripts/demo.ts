// `npm run demo`: a flash sale against a running gateway, so the live board
// (/live) moves — purchases and clicks on a few hot demo SKUs, restocks after
// a sell-out, quality holds set and lifted. GATEWAY_URL (default
// http://localhost:4000/graphql), GATEWAY_KEY (a writer or admin key when
// authentication is on), DEMO_SECONDS (default 120). It lifts every hold it set
// when it ends (also on Ctrl-C), so the demo data is left as it was.
import { DEMO_ITEMS } from '../writes/seed.js';
import { sleep } from '../util.js';

const url = process.env.GATEWAY_URL || 'http://localhost:4000/graphql';
const key = process.env.GATEWAY_KEY;
const seconds = Number(process.env.DEMO_SECONDS || 120);
const hot = ['sku-espresso', 'sku-headphones', 'sku-turntable', 'sku-drone', 'sku-tent'];
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

// The seeded hold on sku-drone is part of the demo data: the demo neither sets nor lifts it.
const holdable = DEMO_ITEMS.map((i) => i.sku).filter((s) => s !== 'sku-drone');
const held = new Set<string>();
const setHold = (t: string, a: boolean) => gql('mutation($t: ID!, $a: Boolean!) { setPolicyFlag(scope: SKU, target: $t, kind: QUALITY_HOLD, active: $a, reason: "demo inspection") { active } }',
  { t, a });
let stopping = false;
async function liftHolds(): Promise<void> {
  for (const t of held) await setHold(t, false);
  if (held.size) console.log(`lifted the demo's holds on ${[...held].join(', ')}`);
  held.clear();
}
process.on('SIGINT', () => {
  if (stopping) return;
  stopping = true;
  void liftHolds().finally(() => process.exit(130));
});

const end = Date.now() + seconds * 1000;
let purchases = 0;
let refused = 0;
let flips = 0;
const soldOutAt = new Map<string, number>();
console.log(`demo flash sale on ${url} for ${seconds} s — open ${url.replace('/graphql', '/live')}`);
for (let tick = 0; Date.now() < end && !stopping; tick++) {
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
    const code = res.errors[0]!.extensions?.code;
    const hint = code === 'UNAUTHENTICATED' || code === 'FORBIDDEN'
      ? ' — the gateway has API keys: run the demo with GATEWAY_KEY=<a writer or admin key> (npm run keys -- create writer demo)' : '';
    console.error(`${res.errors[0]!.message}${hint}`);
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
    const active = tick % 50 === 0;
    const target = active ? pick(holdable) : pick([...held, ...holdable]);
    await setHold(target, active);
    if (active) held.add(target); else held.delete(target);
    flips++;
  }
  await sleep(200);
}
if (!stopping) {
  await liftHolds();
  console.log(`done: ${purchases} purchase batches, ${refused} refused (sold out), ${flips} flag writes`);
}
