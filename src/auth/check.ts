// The auth decisions every transport applies (HTTP and SSE in plugins/auth.ts,
// graphql-ws in live/ws.ts): whether a caller is let in at all, whether its
// roles may run the operation it names, and the error each refusal becomes.
import { getOperationAST, GraphQLError, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { ERRORS, httpStatus, type ErrorCode } from '../errors.js';
import { OPEN, type KeyStore, type Principal, type Refusal } from './keys.js';
import { rootFields } from '../plugins/root-fields.js';
import { describeRoles, mayRun, roleFor } from './roles.js';

const introspectionOnly = (document: DocumentNode, op: OperationDefinitionNode) =>
  op.operation === 'query' && rootFields(document, op).every((f) => f.name.value.startsWith('__'));

/** The role rule (roles.ts) applied to the operation a request names; introspection alone needs any key. */
export function forbidden(principal: Principal | undefined, document: DocumentNode, operationName?: string | null): GraphQLError | null {
  const op = getOperationAST(document, operationName);
  if (!op || introspectionOnly(document, op) || mayRun(principal, op.operation)) return null;
  return new GraphQLError(`This API key (roles: ${describeRoles(principal)}) may not run a ${op.operation}; it needs the ${roleFor(op.operation)} role`, {
    extensions: { code: 'FORBIDDEN' satisfies ErrorCode, http: httpStatus('FORBIDDEN') },
  });
}

const REFUSALS: Record<Refusal | 'revoked', { code: ErrorCode; message: string }> = {
  unavailable: { code: 'UNAVAILABLE', message: 'API keys are not loaded yet, so no caller can be let in; retry shortly' },
  missing: { code: 'UNAUTHENTICATED', message: 'Missing API key; send Authorization: Bearer <key>' },
  invalid: { code: 'UNAUTHENTICATED', message: 'Invalid or revoked API key' },
  revoked: { code: 'UNAUTHENTICATED', message: 'API key revoked' },
};

/** The HTTP status and headers a refusal is answered with. */
export const httpOf = (why: Refusal | 'revoked'): { status: number; headers: Record<string, string> } => ({
  status: ERRORS[REFUSALS[why].code].status,
  headers: why === 'unavailable' ? { 'retry-after': '1' } : { 'www-authenticate': 'Bearer' },
});

/** The error for a refused caller; `http` adds the status yoga answers with (not for streams and graphql-ws). */
export function authError(why: Refusal | 'revoked', http = false): GraphQLError {
  const { code, message } = REFUSALS[why];
  return new GraphQLError(message, { extensions: { code, ...(http ? { http: httpOf(why) } : {}) } });
}

/**
 * Why an operation about to run must not: keys never read, or auth on and no
 * active principal (none set, a revoked key, or OPEN after auth turned on).
 */
export function refusalOf(store: KeyStore, principal: Principal | undefined): Refusal | null {
  if (!store.ready) return 'unavailable';
  const who = principal ?? (store.enabled ? undefined : OPEN);
  if (who && store.isActive(who)) return null;
  return who && who.id !== OPEN.id ? 'invalid' : 'missing';
}
