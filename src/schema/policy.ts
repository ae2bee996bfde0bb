import { may } from '../auth/roles.js';
import { builder } from '../builder.js';
import { DomainError, parseInput } from '../errors.js';
import type { FlagRow } from '../reads/decision-sql.js';
import { setPolicyFlag } from '../writes/policy.js';
import { id, text } from './inputs.js';

export const POLICY_SCOPES = ['USER', 'SKU', 'CATEGORY'] as const;
export const PolicyScope = builder.enumType('PolicyScope', { values: POLICY_SCOPES });
export const PolicyKind = builder.enumType('PolicyKind', { values: ['FRAUD', 'QUALITY_HOLD', 'RISK_GATE'] as const });

export const PolicyFlag = builder.objectRef<FlagRow>('PolicyFlag').implement({
  description: 'A policy flag on a user, a SKU or a category.',
  fields: (t) => ({
    scope: t.expose('scope', { type: PolicyScope }),
    target: t.exposeID('target'),
    kind: t.expose('kind', { type: PolicyKind }),
    active: t.exposeBoolean('active'),
    reason: t.exposeString('reason', { nullable: true }),
    changedAt: t.expose('changedAt', { type: 'DateTime' }),
  }),
});

builder.mutationField('setPolicyFlag', (t) => t.field({
  type: PolicyFlag,
  description: 'Set or lift a flag. Touches every decision that involves the user, SKU or category. '
    + 'Writer keys may set any flag; merchandiser keys SKU and CATEGORY flags.',
  // Merchandisers (the live board) may hold SKUs and categories without the other writes.
  authScopes: { $any: { write: true, flag: true } },
  skipTypeScopes: true,
  args: {
    scope: t.arg({ type: PolicyScope, required: true }),
    target: t.arg.id({ required: true }),
    kind: t.arg({ type: PolicyKind, required: true }),
    active: t.arg.boolean({ required: true }),
    reason: t.arg.string(),
  },
  resolve: async (_, args, ctx) => {
    if (args.scope === 'USER' && !may(ctx.principal, 'write')) {
      throw new DomainError('FORBIDDEN', 'USER-scope flags need a writer or admin key', { field: 'scope' });
    }
    const target = parseInput(id, args.target, 'target');
    const reason = parseInput(text(1000).nullable(), args.reason ?? null, 'reason');
    return (await setPolicyFlag(ctx.sql, args.scope, target, args.kind, args.active, reason)).flag;
  },
}));
