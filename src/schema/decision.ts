import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { may } from '../auth/roles.js';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { DomainError, parseInput } from '../errors.js';
import type { LoggedDecision, SnapshotShape } from '../log/decision-log.js';
import { hasEventLists } from '../reads/decision-sql.js';
import { lagBoundMs } from '../reads/replicas.js';
import { loadersOf } from '../reads/snapshot.js';
import { CandidateContextRef, toCandidate, type CandidateShape } from './candidate.js';
import { id, MAX_CANDIDATES } from './inputs.js';
import { SessionContextRef } from './session.js';
import { UserContextRef } from './user.js';

interface DecisionShape {
  decisionId: string;
  logged: boolean;
  userId: string;
  sessionId: string | null;
  candidates: string[];
  region: string | null;
  /** The facts statement prefetches the event lists (FactsKey.eventLists). */
  eventLists: boolean;
  /** What the answer's snapshot and candidates fields served, kept for the decision log (the same objects). */
  served: { snapshot?: SnapshotShape; candidates?: CandidateShape[] };
}

const SnapshotSourceRef = builder.enumType('SnapshotSource', {
  description: 'The server a snapshot was read on.',
  values: {
    PRIMARY: { description: 'The primary: as fresh as the database is.' },
    REPLICA: { description: 'A hot standby within MAX_REPLICA_LAG_MS of the primary (see `lagMs`).' },
  } as const,
});

export const SnapshotRef = builder.objectRef<SnapshotShape>('Snapshot').implement({
  description: 'The one Postgres snapshot every number in this decision was read from.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'pg_current_snapshot() of the read transaction.' }),
    readAt: t.expose('readAt', { type: 'DateTime', description: 'The transaction\'s now(); all windows end here.' }),
    cursor: t.exposeString('cursor', {
      description: 'The newest change this snapshot sees: subscribe with `after: cursor` to continue from this exact state.',
    }),
    source: t.field({ type: SnapshotSourceRef, resolve: (s) => s.source, description: 'Where this snapshot was read.' }),
    lagMs: t.exposeInt('lagMs', {
      description: 'An upper bound, in ms, on how far behind the primary this snapshot may be (commits it may miss are at most this old); 0 on the primary.',
    }),
  }),
});

// Sibling fields load in the same tick: facts and candidate state go out as
// two pipelined statements on the request's snapshot transaction.
const facts = (d: DecisionShape, ctx: Context) =>
  loadersOf(ctx).facts.load({ userId: d.userId, sessionId: d.sessionId, region: d.region, eventLists: d.eventLists });

const LIST_FIELDS = new Set(['recentEvents', 'recentPurchases']);

/**
 * Whether a selection asks for an event list anywhere below it (fragments included,
 * @skip/@include ignored): then the facts statement prefetches them. Erring either way
 * changes no answer (a list not prefetched is read by one more statement), only the cost.
 */
function selectsEventLists(set: SelectionSetNode | undefined, info: Pick<GraphQLResolveInfo, 'fragments'>, seen = new Set<string>()): boolean {
  if (!set) return false;
  return set.selections.some((s) => {
    if (s.kind === Kind.FIELD) return LIST_FIELDS.has(s.name.value) || selectsEventLists(s.selectionSet, info, seen);
    if (s.kind === Kind.INLINE_FRAGMENT) return selectsEventLists(s.selectionSet, info, seen);
    if (seen.has(s.name.value)) return false;
    seen.add(s.name.value);
    return selectsEventLists(info.fragments[s.name.value]?.selectionSet, info, seen);
  });
}

// A compiled operation keeps its field nodes: each is walked once.
const listsByNode = new WeakMap<FieldNode, boolean>();
export function wantsEventLists(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>): boolean {
  const node = info.fieldNodes[0]!;
  let wants = info.fieldNodes.length === 1 ? listsByNode.get(node) : undefined;
  if (wants === undefined) {
    wants = info.fieldNodes.some((n) => selectsEventLists(n.selectionSet, info));
    if (info.fieldNodes.length === 1) listsByNode.set(node, wants);
  }
  return wants;
}

// The lag bound fixed when the snapshot was taken (reads/replicas.ts); 0 on the primary.
async function snapshotOf(d: DecisionShape, ctx: Context): Promise<SnapshotShape> {
  const [f, lagMs] = await Promise.all([facts(d, ctx), lagBoundMs(ctx.route)]);
  return { id: f.snapshotId, readAt: f.readAt, cursor: f.changeCursor, source: ctx.route?.source ?? 'PRIMARY', lagMs };
}

async function candidatesOf(d: DecisionShape, ctx: Context): Promise<CandidateShape[]> {
  const [f, states] = await Promise.all([facts(d, ctx), loadersOf(ctx).state.loadMany(d.candidates)]);
  return states.map((s) => {
    if (s instanceof Error) throw s;
    return toCandidate(s, f, d.region !== null);
  });
}

/**
 * A logged decision: before COMMIT, the rows the answer was built from (the
 * loaders' cached results; read now, in the same snapshot, only for fields the
 * query did not select); after COMMIT, handed to the log's queue.
 */
function logAfterAnswer(d: DecisionShape, ctx: Context): void {
  const log = ctx.decisionLog!;
  let entry: LoggedDecision | undefined;
  (ctx.deferred ??= []).push({
    inside: async () => {
      const f = await facts(d, ctx);
      if (!hasEventLists(f)) throw new Error('a logged decision\'s facts were read without its event lists'); // d.eventLists is set when logged
      entry = {
        decisionId: d.decisionId, keyId: ctx.principal?.id ?? null,
        userId: d.userId, sessionId: d.sessionId, region: d.region,
        snapshot: d.served.snapshot ?? await snapshotOf(d, ctx),
        facts: f,
        candidates: d.served.candidates ?? await candidatesOf(d, ctx),
      };
    },
    after: () => { if (entry) log.offer(entry); },
  });
}

const DecisionContextRef = builder.objectRef<DecisionShape>('DecisionContext').implement({
  fields: (t) => ({
    decisionId: t.exposeID('decisionId', {
      description: 'This decision\'s id: unique, and in time order (a UUIDv7). Cite it in recordEvents when `logged`.',
    }),
    logged: t.exposeBoolean('logged', {
      description: 'Picked for the decision log (log: true, or sampled at DECISION_LOG_SAMPLE). Its row is written within '
        + 'a second of the answer, unless the log\'s queue is full (then it is dropped and counted in /metrics).',
    }),
    snapshot: t.field({
      type: SnapshotRef,
      resolve: async (d, _, ctx) => (d.served.snapshot = await snapshotOf(d, ctx)),
    }),
    user: t.field({ type: UserContextRef, resolve: async (d, _, ctx) => ({ id: d.userId, facts: await facts(d, ctx) }) }),
    session: t.field({
      type: SessionContextRef,
      nullable: true,
      resolve: async (d, _, ctx) => (d.sessionId === null ? null : { id: d.sessionId, userId: d.userId, facts: await facts(d, ctx) }),
    }),
    candidates: t.field({
      type: [CandidateContextRef],
      description: 'In request order, duplicates included.',
      resolve: async (d, _, ctx) => (d.served.candidates = await candidatesOf(d, ctx)),
    }),
  }),
});

const argsSchema = z.object({
  userId: id,
  sessionId: id.nullable(),
  candidates: z.array(id).max(MAX_CANDIDATES, `must hold at most ${MAX_CANDIDATES} SKUs`),
  region: id.nullable(),
});

builder.queryField('decisionContext', (t) => t.field({
  type: DecisionContextRef,
  description: 'Everything true right now for this user, session and candidates, read from one Postgres snapshot.',
  args: {
    userId: t.arg.id({ required: true }),
    sessionId: t.arg.id(),
    candidates: t.arg.idList({ required: true }),
    region: t.arg.string(),
    log: t.arg.boolean({
      description: 'Log this decision whatever DECISION_LOG_SAMPLE says (keys with the writer or admin role; others get FORBIDDEN).',
    }),
    after: t.arg.string({
      description: 'A consistency token from a mutation (extensions.consistencyToken): the snapshot then includes that write '
        + '(read on a replica that has replayed it, else on the primary). Same as the x-consistency-token request header.',
    }),
  },
  resolve: (_, raw, ctx, info) => {
    const args = parseInput(argsSchema, {
      userId: raw.userId,
      sessionId: raw.sessionId ?? null,
      candidates: raw.candidates,
      region: raw.region ?? null,
    }, '');
    if (raw.log && !may(ctx.principal, 'forceLog')) {
      throw new DomainError('FORBIDDEN', 'log: true needs a key with the writer or admin role (other keys are logged by sampling only)', { field: 'log' });
    }
    const logged = ctx.decisionLog !== undefined && (raw.log === true || ctx.decisionLog.sampled());
    // A logged decision logs the lists (log/decision-log.ts): prefetched whatever the query selects.
    const d: DecisionShape = { ...args, decisionId: uuidv7(), logged, eventLists: logged || wantsEventLists(info), served: {} };
    if (logged) logAfterAnswer(d, ctx);
    return d;
  },
}));
