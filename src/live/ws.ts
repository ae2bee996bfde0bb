// graphql-ws on the same /graphql path as HTTP and SSE, executed through
// yoga's envelop so subscriptions get the same schema, context and plugins.
import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { App } from '../app.js';
import type { KeyStore, Principal } from '../auth/keys.js';
import { authenticate } from '../plugins/auth.js';

interface EnvelopRoot { execute: (a: ExecutionArgs) => unknown; subscribe: (a: ExecutionArgs) => unknown }

export function attachWebSocket(server: Server, app: App, keys?: KeyStore): WebSocketServer {
  const wss = new WebSocketServer({ server, path: app.graphqlEndpoint });
  const principals = new WeakMap<object, Principal>();
  useServer({
    // A missing or wrong key closes the socket cleanly (4403 Forbidden) before any subscription.
    onConnect: (ctx) => {
      if (!keys) return true;
      const params = ctx.connectionParams ?? {};
      const principal = authenticate(keys, String(params.authorization ?? params.Authorization ?? ''));
      if (!principal) return false;
      principals.set(ctx.extra, principal);
      return true;
    },
    execute: (args) => (args.rootValue as EnvelopRoot).execute(args) as never,
    subscribe: (args) => (args.rootValue as EnvelopRoot).subscribe(args) as never,
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = app.getEnveloped({
        ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params, principal: principals.get(ctx.extra),
      });
      const args: ExecutionArgs = {
        schema,
        operationName: params.operationName,
        document: parse(params.query),
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      const errors = validate(args.schema, args.document);
      return errors.length ? errors : args;
    },
  }, wss);
  return wss;
}
