// Authentication (API key → principal) and authorization (role → operations).
// Keys come as `Authorization: Bearer <key>` over HTTP and SSE, and as
// connectionParams.authorization over graphql-ws. With no active key the
// gateway is open (KeyStore logs a loud warning at start).
import { getOperationAST, GraphQLError, Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { KeyStore, Principal, Role } from '../auth/keys.js';
import type { Context } from '../context.js';

const OPEN: Principal = { id: 'open', role: 'admin', name: 'no keys configured' };
const OPEN_PATHS = new Set(['/health', '/ready', '/metrics', '/live', '/live/app.js']); // the board page is static; its API calls carry the key

/** Who is calling, or null when auth is on and the key is missing or wrong. */
export function authenticate(store: KeyStore, authorization: string | null | undefined): Principal | null {
  return store.enabled ? store.verify(authorization) : OPEN;
}

function requiredRole(op: OperationDefinitionNode): Role | null {
  if (op.operation === 'mutation') return 'writer';
  if (op.operation === 'subscription') return 'subscriber';
  const fields = op.selectionSet.selections.filter((s) => s.kind !== Kind.FIELD || !s.name.value.startsWith('__'));
  return fields.length === 0 ? null : 'reader'; // introspection alone: any key
}

export function forbidden(principal: Principal | undefined, document: DocumentNode, operationName?: string | null): GraphQLError | null {
  const op = getOperationAST(document, operationName);
  const needed = op ? requiredRole(op) : null;
  if (!needed || principal?.role === 'admin' || principal?.role === needed) return null;
  return new GraphQLError(`This API key (role ${principal?.role ?? 'none'}) may not run a ${op!.operation}; it needs the ${needed} role`, {
    extensions: { code: 'FORBIDDEN', http: { status: 403 } },
  });
}

export const unauthenticated = () => new GraphQLError('Missing or invalid API key; send Authorization: Bearer <key>', {
  extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
});

export function useAuth(store: KeyStore, principals: WeakMap<Request, Principal>): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (OPEN_PATHS.has(url.pathname)) return;
      if (request.method === 'GET' && request.headers.get('accept')?.includes('text/html')) return; // GraphiQL page
      const principal = authenticate(store, request.headers.get('authorization'));
      if (!principal) {
        endResponse(new fetchAPI.Response(JSON.stringify({ errors: [unauthenticated().toJSON()] }), {
          status: 401, headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
        }));
        return;
      }
      principals.set(request, principal);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = forbidden((args.contextValue as unknown as Context).principal, args.document, args.operationName);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = forbidden((args.contextValue as unknown as Context).principal, args.document, args.operationName);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
