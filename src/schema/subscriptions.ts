import { getArgumentValues, type GraphQLResolveInfo } from 'graphql';
import { z } from 'zod';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { DomainError, parseInput } from '../errors.js';
import type { InventoryPayload, LoggedChange, PolicyPayload } from '../live/changelog.js';
import { cursorOf, StreamEnd, type Delivery, type Filter } from '../live/hub.js';
import { id, MAX_CANDIDATES, plain } from './inputs.js';
import { describedValues, INVENTORY_CAUSE_DESCRIPTIONS, INVENTORY_CAUSES, POLICY_SCOPES, PRIVATE_SCOPE } from '../domain.js';
import { PolicyFlagRef, PolicyScopeRef } from './policy.js';
import { canSeeUserFlags } from '../auth/roles.js';

type Logged<P> = LoggedChange & { payload: P };

const InventoryChangeCauseRef = builder.enumType('InventoryChangeCause', {
  values: describedValues(INVENTORY_CAUSES, INVENTORY_CAUSE_DESCRIPTIONS),
});

const InventoryChangeRef = builder.objectRef<Logged<InventoryPayload>>('InventoryChange').implement({
  description: 'A committed change of a SKU\'s stock (`available` or `reserved`, so of its sellable units), in commit order.',
  fields: (t) => ({
    cursor: t.string({ description: 'Pass as `after` to resume right after this change.', resolve: (c) => cursorOf(c.seq) }),
    sku: t.id({ resolve: (c) => c.payload.sku }),
    available: t.int({ resolve: (c) => c.payload.available }),
    previous: t.int({ nullable: true, description: '`available` before the change. Null for a SKU that did not exist before.', resolve: (c) => c.payload.previous }),
    reserved: t.int({
      nullable: true, description: 'Units held after the change. Null only for changes logged before reserved was pushed (their entries lack it).',
      resolve: (c) => c.payload.reserved ?? null,
    }),
    previousReserved: t.int({
      nullable: true, description: '`reserved` before the change. Null for a new SKU, and for changes logged before reserved was pushed.',
      resolve: (c) => c.payload.previousReserved ?? null,
    }),
    sellable: t.int({
      nullable: true, description: 'available − reserved after the change: 0 means sold out. Null when `reserved` is.',
      resolve: (c) => (c.payload.reserved == null ? null : c.payload.available - c.payload.reserved),
    }),
    cause: t.field({ type: InventoryChangeCauseRef, description: 'Which write moved the stock.', resolve: (c) => c.payload.cause ?? 'SET_INVENTORY' }),
    committedAt: t.field({ type: 'DateTime', resolve: (c) => c.committedAt }),
  }),
});

const PolicyFlipRef = builder.objectRef<Logged<PolicyPayload>>('PolicyFlip').implement({
  description: 'A committed change of a policy flag\'s `active`, in commit order.',
  fields: (t) => ({
    cursor: t.string({ resolve: (c) => cursorOf(c.seq) }),
    flag: t.field({ type: PolicyFlagRef, resolve: (c) => c.payload.flag }),
    active: t.boolean({ resolve: (c) => c.payload.flag.active }),
    committedAt: t.field({ type: 'DateTime', resolve: (c) => c.committedAt }),
  }),
});

builder.subscriptionType({ authScopes: { subscribe: true } });

/** Subscriptions are counted per key; with auth off there is no key to count by. */
const ownerOf = (ctx: Context) => (ctx.principal && ctx.principal.id !== 'open' ? ctx.principal.id : null);

function hubOf(ctx: Context) {
  if (!ctx.hub) throw new DomainError('UNAVAILABLE', 'Subscriptions are not enabled on this gateway');
  return ctx.hub;
}

// A StreamEnd is how a subscription ends with an error (SLOW_CONSUMER, shutdown):
// clients get it as a final result with `errors`, then completion.
function deliver<T>(d: Delivery): T {
  if (d instanceof StreamEnd) throw d.error;
  return d as T;
}

/**
 * The field's arguments, read from the document itself: graphql-jit's compiled
 * subscribe drops literal arguments (skus: ["a"]), so do not trust `args` here.
 */
function argumentsOf(info: GraphQLResolveInfo): Record<string, unknown> {
  return getArgumentValues(info.parentType.getFields()[info.fieldName]!, info.fieldNodes[0]!, info.variableValues);
}

/** USER-scope flags name a person and carry free-text fraud reasons: only admin keys see them. */
function visibleScopes(ctx: Context, asked: string[] | null): Set<string> | null {
  if (canSeeUserFlags(ctx.principal)) return asked && new Set(asked);
  if (asked?.includes(PRIVATE_SCOPE)) throw new DomainError('FORBIDDEN', 'USER-scope policy flips need an admin key');
  return new Set(asked ?? POLICY_SCOPES.filter((s) => s !== PRIVATE_SCOPE));
}

const skusArg = z.array(id).max(MAX_CANDIDATES, `must hold at most ${MAX_CANDIDATES} SKUs`).nullable();
// The hub checks the cursor's format; this names the field for text that could never be one.
const afterArg = plain(100).nullable();

builder.subscriptionField('inventoryChanged', (t) => t.field({
  type: InventoryChangeRef,
  description: 'Every committed change of `available` or `reserved` (setInventory, purchases, upsertItems). skus null = every SKU.',
  args: { skus: t.arg.idList(), after: t.arg.string() },
  subscribe: (_, _args, ctx, info) => {
    const args = argumentsOf(info) as { skus?: string[] | null; after?: string | null };
    const skus = parseInput(skusArg, args.skus?.map(String) ?? null, 'skus');
    const after = parseInput(afterArg, args.after ?? null, 'after');
    const filter: Filter = { topic: 'inventory', keys: skus && new Set(skus) };
    return hubOf(ctx).subscribe(filter, after, ownerOf(ctx));
  },
  resolve: (d) => deliver<Logged<InventoryPayload>>(d as Delivery),
}));

builder.subscriptionField('policyFlipped', (t) => t.field({
  type: PolicyFlipRef,
  description: 'Every setPolicyFlag that changed a flag\'s `active`. scopes null = every scope the key may see: '
    + 'USER-scope flips (a user id and a fraud reason) reach admin keys only.',
  args: { scopes: t.arg({ type: [PolicyScopeRef] }), after: t.arg.string() },
  subscribe: (_, _args, ctx, info) => {
    const args = argumentsOf(info) as { scopes?: string[] | null; after?: string | null };
    const after = parseInput(afterArg, args.after ?? null, 'after');
    const filter: Filter = { topic: 'policy', keys: visibleScopes(ctx, args.scopes ?? null) };
    return hubOf(ctx).subscribe(filter, after, ownerOf(ctx));
  },
  resolve: (d) => deliver<Logged<PolicyPayload>>(d as Delivery),
}));
