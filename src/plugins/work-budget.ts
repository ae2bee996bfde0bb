// The work one caller can ask for. A decision's cost is its candidate count;
// aliases, batched operations and concurrent requests multiply it. The
// per-query limits (graphql-armor) see one document at a time, so the budget
// is counted here: per HTTP request (all operations of a batch, all aliases)
// and per key across its requests in flight. Refusals say what to lower.
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { DomainError } from '../errors.js';
import { argumentValue, rootFields } from './root-fields.js';

export interface WorkBudget {
  /** Candidate evaluations one HTTP request (or graphql-ws message) may ask for. */
  perRequest: number;
  /** Candidate evaluations one key may have in flight across its requests. */
  perKeyInFlight: number;
}

const COSTED_FIELD = 'decisionContext';

/** Candidates asked for by every decisionContext the operation selects, aliases and fragments included. */
export function candidateCost(document: DocumentNode, operationName: string | null | undefined, variables?: Record<string, unknown> | null): number {
  const op = getOperationAST(document, operationName);
  if (!op || op.operation !== 'query') return 0;
  let cost = 0;
  for (const f of rootFields(document, op)) {
    if (f.name.value !== COSTED_FIELD) continue;
    const candidates = argumentValue(op, f, 'candidates', variables);
    if (Array.isArray(candidates)) cost += candidates.length;
  }
  return cost;
}

const refuse = (message: string, extra: Record<string, unknown>) => new DomainError('LIMIT_EXCEEDED', message, extra);

export function useWorkBudget(budget: WorkBudget): Plugin {
  const perRequest = new WeakMap<object, number>();
  const perKey = new Map<string, number>();
  return {
    onExecute({ args, executeFn, setExecuteFn, setResultAndStopExecution }) {
      const cost = candidateCost(args.document, args.operationName, args.variableValues);
      if (cost === 0) return;
      const ctx = args.contextValue as unknown as Context & { request?: Request };
      // A batch's operations share one Request; a graphql-ws message is its own request.
      const requestKey: object = ctx.request ?? ctx;
      const spent = (perRequest.get(requestKey) ?? 0) + cost;
      if (spent > budget.perRequest) {
        setResultAndStopExecution({ errors: [refuse(
          `This request asks for ${spent} candidate evaluations (candidates × aliases × batched operations); `
          + `the limit is ${budget.perRequest} (MAX_REQUEST_CANDIDATES). Send fewer candidates, aliases or operations per request.`,
          { limit: budget.perRequest, asked: spent })] });
        return;
      }
      perRequest.set(requestKey, spent);
      const key = ctx.principal?.id ?? 'open';
      const inFlight = (perKey.get(key) ?? 0) + cost;
      if (inFlight > budget.perKeyInFlight) {
        setResultAndStopExecution({ errors: [refuse(
          `This key has ${inFlight - cost} candidate evaluations in flight; with ${cost} more it would pass `
          + `${budget.perKeyInFlight} (MAX_KEY_CANDIDATES_IN_FLIGHT). Wait for answers before sending more, or ask for fewer candidates.`,
          { limit: budget.perKeyInFlight, http: { status: 429, headers: { 'retry-after': '1' } } })] });
        return;
      }
      perKey.set(key, inFlight);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const left = (perKey.get(key) ?? cost) - cost;
        if (left > 0) perKey.set(key, left); else perKey.delete(key);
      };
      // envelop skips onExecuteDone when execution throws (OVERLOADED at the pool, UNAVAILABLE): give
      // the budget back in a finally around the whole execution, snapshot transaction included.
      setExecuteFn(async (a) => {
        try {
          return await executeFn(a);
        } finally {
          release();
        }
      });
      return { onExecuteDone: release };
    },
  };
}
