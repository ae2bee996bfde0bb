// The decision log over GraphQL, for admin keys only (it holds every logged
// user's context): decisionLog, a connection over logged decisions in time
// order, and decisionOutcomes, what a decision's user did next.
import { z } from 'zod';
import { builder } from '../builder.js';
import { DomainError, parseInput } from '../errors.js';
import type { Flag, Intent } from '../domain.js';
import { readDecisionLogPage, readDecisionOutcomes, type LoggedRow, type OutcomeRow } from '../reads/decision-log.js';
import { loadersOf } from '../reads/snapshot.js';
import { CandidateContextRef, type CandidateShape } from './candidate.js';
import { SnapshotRef } from './decision.js';
import { EventKindRef } from './event.js';
import { decisionIdSchema, MAX_LIST_LIMIT } from './inputs.js';
import { PolicyFlagRef } from './policy.js';
import { IntentRef } from './session.js';

interface LoggedSignal {
  sku: string; item: { title: string; category: string } | null; inventory: CandidateShape['inventory'];
  velocity: CandidateShape['velocity']; price: CandidateShape['price']; policy: Flag[]; reasons: CandidateShape['reasons'];
}

const DecisionLogEntryRef = builder.objectRef<LoggedRow>('DecisionLogEntry').implement({
  description: 'A logged decision: its request, its snapshot and every signal the gateway read for it (what the answer served).',
  fields: (t) => ({
    decisionId: t.exposeID('decision_id'),
    loggedAt: t.expose('logged_at', { type: 'DateTime', description: 'When the row was written (after the answer).' }),
    keyId: t.exposeString('key_id', { nullable: true, description: 'The API key that asked (`open` with authentication off).' }),
    userId: t.exposeID('user_id'),
    sessionId: t.exposeID('session_id', { nullable: true }),
    region: t.exposeString('region', { nullable: true }),
    snapshot: t.field({
      type: SnapshotRef,
      resolve: (r) => ({ id: r.snapshot_id, readAt: r.read_at, cursor: r.snapshot_cursor, source: r.source as 'PRIMARY' | 'REPLICA', lagMs: r.lag_ms }),
    }),
    segment: t.string({ nullable: true, resolve: (r) => (r.context as { segment: string | null }).segment }),
    intent: t.field({ type: IntentRef, nullable: true, description: 'Null without a session.', resolve: (r) => (r.context as { intent: Intent | null }).intent }),
    userFlags: t.field({ type: [PolicyFlagRef], resolve: (r) => (r.context as { userFlags: Flag[] }).userFlags }),
    candidates: t.field({
      type: [CandidateContextRef],
      description: 'In request order, as served.',
      resolve: (r) => {
        const fulfillment = (r.context as { fulfillment: CandidateShape['fulfillment'] }).fulfillment;
        return (r.signals as LoggedSignal[]).map((s): CandidateShape => ({
          sku: s.sku, item: s.item && { sku: s.sku, ...s.item }, inventory: s.inventory, velocity: s.velocity, price: s.price,
          policy: s.policy, fulfillment, reasons: s.reasons,
        }));
      },
    }),
  }),
});

const DecisionLogEdgeRef = builder.objectRef<LoggedRow>('DecisionLogEdge').implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (r) => r.decision_id, description: 'Pass as `after` to continue.' }),
    node: t.field({ type: DecisionLogEntryRef, resolve: (r) => r }),
  }),
});

const PageInfoRef = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

const DecisionLogConnectionRef = builder.objectRef<{ rows: LoggedRow[]; hasNextPage: boolean }>('DecisionLogConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [DecisionLogEdgeRef], resolve: (c) => c.rows }),
    pageInfo: t.field({ type: PageInfoRef, resolve: (c) => ({ hasNextPage: c.hasNextPage, endCursor: c.rows.at(-1)?.decision_id ?? null }) }),
  }),
});

const DecisionOutcomeRef = builder.objectRef<OutcomeRow>('DecisionOutcome').implement({
  description: 'An event that cites a logged decision, recorded within the attribution window (DECISION_ATTRIBUTION_WINDOW_S) after it.',
  fields: (t) => ({
    kind: t.expose('kind', { type: EventKindRef }),
    sku: t.exposeID('sku', { nullable: true }),
    position: t.exposeInt('position', { nullable: true }),
    quantity: t.exposeInt('quantity'),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

const pageArgs = z.object({
  after: decisionIdSchema.nullable(),
  first: z.number().int().min(1, 'must be at least 1').max(MAX_LIST_LIMIT, `must be at most ${MAX_LIST_LIMIT}`),
});

builder.queryField('decisionLog', (t) => t.field({
  type: DecisionLogConnectionRef,
  description: 'Logged decisions in time order (admin keys only).',
  authScopes: { decisionLog: true },
  args: {
    after: t.arg.string({ description: 'An edge\'s cursor: the page starts after that decision.' }),
    first: t.arg.int({ defaultValue: 20, required: true, description: `1 to ${MAX_LIST_LIMIT}.` }),
  },
  resolve: (_, raw, ctx) => {
    const a = parseInput(pageArgs, { after: raw.after ?? null, first: raw.first }, '');
    return readDecisionLogPage(loadersOf(ctx).db, a.after, a.first);
  },
}));

builder.queryField('decisionOutcomes', (t) => t.field({
  type: [DecisionOutcomeRef],
  description: 'The clicks, add-to-carts and purchases citing a logged decision within the attribution window, oldest first (admin keys only).',
  authScopes: { decisionLog: true },
  args: { decisionId: t.arg.id({ required: true }) },
  resolve: async (_, raw, ctx) => {
    const id = parseInput(decisionIdSchema, raw.decisionId, 'decisionId');
    const outcomes = await readDecisionOutcomes(loadersOf(ctx).db, id, ctx.attributionWindowS ?? 1800);
    if (!outcomes) throw new DomainError('NOT_FOUND', `Decision ${id} is not in the decision log`, { field: 'decisionId' });
    return outcomes;
  },
}));
