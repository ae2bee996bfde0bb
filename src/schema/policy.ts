import { may } from '../auth/roles.js';
import { builder } from '../builder.js';
import { DomainError, parseInput } from '../errors.js';
import { describedValues, POLICY_KIND_DESCRIPTIONS, POLICY_KIND_SCOPES, POLICY_KINDS, POLICY_SCOPES, PRIVATE_SCOPE, type Flag } from '../domain.js';
import { setPolicyFlag } from '../writes/policy.js';
import { id, text } from './inputs.js';

export const PolicyScopeRef = builder.enumType('PolicyScope', { values: POLICY_SCOPES });
export const PolicyKindRef = builder.enumType('PolicyKind', { values: describedValues(POLICY_KINDS, POLICY_KIND_DESCRIPTIONS) });

export const PolicyFlagRef = builder.objectRef<Flag>('PolicyFlag').implement({
  description: 'A policy flag on a user, a SKU or a category.',
  fields: (t) => ({
    scope: t.expose('scope', { type: PolicyScopeRef }),
    target: t.exposeID('target'),
    kind: t.expose('kind', { type: PolicyKindRef }),
    active: t.exposeBoolean('active'),
    reason: t.exposeString('reason', { nullable: true }),
    changedAt: t.expose('changedAt', { type: 'DateTime' }),
  }),
});

builder.mutationField('setPolicyFlag', (t) => t.field({
  type: PolicyFlagRef,
  description: 'Set or lift a flag. Touches every decision that involves the user, SKU or category. '
    + 'FRAUD is set on a USER; QUALITY_HOLD and RISK_GATE on a SKU or CATEGORY (other pairs: BAD_USER_INPUT). '
    + 'Writer keys may set any flag; merchandiser keys SKU and CATEGORY flags.',
  // Merchandisers (the live board) may hold SKUs and categories without the other writes.
  authScopes: { $any: { write: true, flag: true } },
  skipTypeScopes: true,
  args: {
    scope: t.arg({ type: PolicyScopeRef, required: true }),
    target: t.arg.id({ required: true }),
    kind: t.arg({ type: PolicyKindRef, required: true }),
    active: t.arg.boolean({ required: true }),
    reason: t.arg.string(),
  },
  resolve: async (_, args, ctx) => {
    if (args.scope === PRIVATE_SCOPE && !may(ctx.principal, 'write')) {
      throw new DomainError('FORBIDDEN', 'USER-scope flags need a writer or admin key', { field: 'scope' });
    }
    const scopes = POLICY_KIND_SCOPES[args.kind];
    if (!scopes.includes(args.scope)) {
      throw new DomainError('BAD_USER_INPUT',
        `kind: ${args.kind} acts on ${scopes.join(' or ')} scope, not ${args.scope}; such a flag would have no effect`, { field: 'kind' });
    }
    const target = parseInput(id, args.target, 'target');
    const reason = parseInput(text(1000).nullable(), args.reason ?? null, 'reason');
    return (await setPolicyFlag(ctx.sql, args.scope, target, args.kind, args.active, reason)).flag;
  },
}));
