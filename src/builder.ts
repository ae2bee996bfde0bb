// The one Pothos builder. Loaders live in the request context (see context.ts),
// bound to the request's snapshot transaction, so no dataloader plugin is needed.
// scope-auth guards every root field by operation kind (auth/roles.ts).
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { describeRoles, may } from './auth/roles.js';
import type { Context } from './context.js';
import { DomainError } from './errors.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  AuthScopes: { read: boolean; write: boolean; subscribe: boolean; flag: boolean; decisionLog: boolean };
  Scalars: {
    // graphql-js and graphql-jit both coerce ID input (a string or an integer) to a string.
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
  };
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      read: may(ctx.principal, 'read'),
      write: may(ctx.principal, 'write'),
      subscribe: may(ctx.principal, 'subscribe'),
      flag: may(ctx.principal, 'flag'),
      decisionLog: may(ctx.principal, 'decisionLog'),
    }),
    unauthorizedError: (_parent, ctx, info) => new DomainError('FORBIDDEN',
      `This API key (roles: ${describeRoles(ctx.principal)}) may not use ${info.parentType.name}.${info.fieldName}`),
  },
});

builder.queryType({ authScopes: { read: true } });
builder.mutationType({ authScopes: { write: true } });
