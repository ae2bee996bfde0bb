// "The feed always agrees with the state", under concurrent writers on keys
// that exist and keys that do not exist yet. After any interleaving of
// writes: for every policy flag, the last flip in the log equals the stored
// state (no flip at all = inactive) and no two consecutive flips of one flag
// carry the same state; for every SKU, each inventory change starts where the
// previous one ended (available and reserved), changes something, and the last
// one equals the stored stock.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items, ok, ownGateway, RECORD, uid, UPSERT, type TestGateway } from './helpers.js';

// Its stream of flips would reach other files' unfiltered subscribers: a database of its own.
let gw: TestGateway;
beforeAll(async () => {
  gw = await ownGateway();
});
afterAll(() => gw.close());

const FLAG = `mutation($t: ID!, $k: PolicyKind!, $a: Boolean!) {
  setPolicyFlag(scope: SKU, target: $t, kind: $k, active: $a, reason: "r") { active } }`;
const SET = `mutation($s: ID!, $a: Int!, $r: Int) { setInventory(sku: $s, available: $a, reserved: $r) { available } }`;

type Write =
  | { op: 'flag'; key: number; kind: 'QUALITY_HOLD' | 'RISK_GATE'; active: boolean }
  | { op: 'set'; sku: number; available: number }
  | { op: 'reserve'; sku: number; available: number; reserved: number }
  | { op: 'upsert'; sku: number; available: number }
  | { op: 'buy'; sku: number; quantity: number };

const write: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ op: fc.constant('flag' as const), key: fc.nat(3), kind: fc.constantFrom('QUALITY_HOLD' as const, 'RISK_GATE' as const), active: fc.boolean() }),
  fc.record({ op: fc.constant('set' as const), sku: fc.nat(2), available: fc.nat(50) }),
  fc.record({ op: fc.constant('reserve' as const), sku: fc.nat(2), available: fc.nat(50), reserved: fc.nat(10) }),
  fc.record({ op: fc.constant('upsert' as const), sku: fc.nat(2), available: fc.nat(50) }),
  fc.record({ op: fc.constant('buy' as const), sku: fc.nat(2), quantity: fc.integer({ min: 1, max: 3 }) }),
);

async function apply(p: string, w: Write): Promise<void> {
  const sku = (n: number) => `${p}-sku${n}`;
  switch (w.op) {
    case 'flag':
      ok(await gw.gql(FLAG, { t: `${p}-flag${w.key}`, k: w.kind, a: w.active }));
      return;
    case 'set': // refused (NOT_FOUND) while the SKU does not exist yet: that is fine, it must write nothing
      await gw.gql(SET, { s: sku(w.sku), a: w.available });
      return;
    case 'reserve': // also refused when reserved > available: whole or nothing
      await gw.gql(SET, { s: sku(w.sku), a: w.available, r: w.reserved });
      return;
    case 'upsert': { // refused (BAD_USER_INPUT) when it would put available below a reservation: whole or nothing
      const res = await gw.gql(UPSERT, { items: items(p, { [`sku${w.sku}`]: { available: w.available } }) });
      if (res.errors) expect(res.errors[0]!.extensions?.code).toBe('BAD_USER_INPUT');
      return;
    }
    case 'buy': // may be refused (unknown SKU, not enough stock): whole or nothing
      await gw.gql(RECORD, { events: [{ kind: 'PURCHASE', userId: `${p}-u`, sku: sku(w.sku), quantity: w.quantity }] });
  }
}

async function checkFeedAgreesWithState(p: string): Promise<void> {
  const flags = await gw.sql<{ target: string; kind: string; active: boolean }[]>`
    select target, kind, active from policy_flags where scope = 'SKU' and target like ${`${p}-%`}`;
  const flips = await gw.sql<{ target: string; kind: string; active: boolean }[]>`
    select payload->'flag'->>'target' as target, payload->'flag'->>'kind' as kind, (payload->'flag'->>'active')::boolean as active
    from change_log where topic = 'policy' and payload->'flag'->>'target' like ${`${p}-%`} order by seq`;
  const stored = new Map(flags.map((f) => [`${f.target}/${f.kind}`, f.active]));
  const logged = new Map<string, boolean[]>();
  for (const f of flips) {
    const k = `${f.target}/${f.kind}`;
    logged.set(k, [...(logged.get(k) ?? []), f.active]);
  }
  for (const k of new Set([...stored.keys(), ...logged.keys()])) {
    const history = logged.get(k) ?? [];
    expect(history.at(-1) ?? false, `flag ${k}: last flip vs stored state`).toBe(stored.get(k) ?? false);
    history.forEach((a, i) => { if (i > 0) expect(a, `flag ${k}: flip ${i} repeats the state before it`).not.toBe(history[i - 1]); });
  }

  type Logged = { sku: string; available: number; previous: number | null; reserved: number; previousReserved: number | null };
  const stock = await gw.sql<{ sku: string; available: number; reserved: number }[]>`
    select sku, available, reserved from inventory where sku like ${`${p}-%`}`;
  const changes = await gw.sql<Logged[]>`
    select key as sku, (payload->>'available')::int as available, (payload->>'previous')::int as previous,
           (payload->>'reserved')::int as reserved, (payload->>'previousReserved')::int as "previousReserved"
    from change_log where topic = 'inventory' and key like ${`${p}-%`} order by seq`;
  const bySku = new Map<string, Logged[]>();
  for (const c of changes) bySku.set(c.sku, [...(bySku.get(c.sku) ?? []), c]);
  for (const { sku, available, reserved } of stock) {
    const history = bySku.get(sku) ?? [];
    expect([history[0]?.previous ?? null, history[0]?.previousReserved ?? null], `${sku}: the first change creates the SKU`).toEqual([null, null]);
    history.forEach((c, i) => {
      if (i === 0) return;
      expect([c.previous, c.previousReserved], `${sku}: change ${i} starts where the one before ended`)
        .toEqual([history[i - 1]!.available, history[i - 1]!.reserved]);
      expect([c.available, c.reserved], `${sku}: change ${i} changes something`).not.toEqual([c.previous, c.previousReserved]);
    });
    expect([history.at(-1)?.available, history.at(-1)?.reserved], `${sku}: last change vs stored stock`).toEqual([available, reserved]);
  }
  expect([...bySku.keys()].filter((s) => !stock.some((r) => r.sku === s))).toEqual([]);
}

describe('feed = state under concurrent writers', () => {
  it('holds for any interleaving of flag, stock, catalog and purchase writes on new and existing keys', async () => {
    await fc.assert(fc.asyncProperty(fc.array(write, { minLength: 8, maxLength: 40 }), async (writes) => {
      const p = uid('fs');
      await Promise.all(writes.map((w) => apply(p, w)));
      await checkFeedAgreesWithState(p);
    }), { numRuns: 25 });
  });

  it('holds for concurrent first writes of the same new flag with opposite states (the reported race)', async () => {
    const p = uid('fs-race');
    await Promise.all(Array.from({ length: 40 }, (_, i) => [true, false].map((a) => apply(p, { op: 'flag', key: i, kind: 'RISK_GATE', active: a }))).flat());
    await checkFeedAgreesWithState(p);
  });
});
