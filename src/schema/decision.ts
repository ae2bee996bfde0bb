import { z } from 'zod';
import { builder } from '../builder.js';
import { parseInput } from '../errors.js';
import { lagBoundMs, type SnapshotSource } from '../reads/replicas.js';
import { loadersOf } from '../reads/snapshot.js';
import { CandidateContextRef, toCandidate } from './candidate.js';
import { id, MAX_CANDIDATES } from './inputs.js';
import { SessionContextRef } from './session.js';
import { UserContextRef } from './user.js';

interface DecisionShape { userId: string; sessionId: string | null; candidates: string[]; region: string | null }

const SnapshotSourceRef = builder.enumType('SnapshotSource', {
  description: 'The server a snapshot was read on.',
  values: {
    PRIMARY: { description: 'The primary: as fresh as the database is.' },
    REPLICA: { description: 'A hot standby within MAX_REPLICA_LAG_MS of the primary (see `lagMs`).' },
  } as const,
});

const SnapshotRef = builder.objectRef<{ id: string; readAt: string; cursor: string; source: SnapshotSource; lagMs: number }>('Snapshot').implement({
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
const facts = (d: DecisionShape, ctx: Parameters<typeof loadersOf>[0]) =>
  loadersOf(ctx).facts.load({ userId: d.userId, sessionId: d.sessionId, region: d.region });

const DecisionContextRef = builder.objectRef<DecisionShape>('DecisionContext').implement({
  fields: (t) => ({
    snapshot: t.field({
      type: SnapshotRef,
      resolve: async (d, _, ctx) => {
        // The bound fixed when the snapshot was taken (reads/replicas.ts); 0 on the primary.
        const [f, lagMs] = await Promise.all([facts(d, ctx), lagBoundMs(ctx.route)]);
        return { id: f.snapshotId, readAt: f.readAt, cursor: f.changeCursor, source: ctx.route?.source ?? 'PRIMARY', lagMs };
      },
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
      resolve: async (d, _, ctx) => {
        const loaders = loadersOf(ctx);
        const [f, states] = await Promise.all([facts(d, ctx), loaders.state.loadMany(d.candidates)]);
        return states.map((s) => {
          if (s instanceof Error) throw s;
          return toCandidate(s, f, d.region !== null);
        });
      },
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
    after: t.arg.string({
      description: 'A consistency token from a mutation (extensions.consistencyToken): the snapshot then includes that write '
        + '(read on a replica that has replayed it, else on the primary). Same as the x-consistency-token request header.',
    }),
  },
  resolve: (_, raw) => parseInput(argsSchema, {
    userId: raw.userId,
    sessionId: raw.sessionId ?? null,
    candidates: raw.candidates,
    region: raw.region ?? null,
  }, ''),
}));
