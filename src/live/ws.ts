// graphql-ws on the same /graphql path as HTTP and SSE, executed through
// yoga's envelop so subscriptions get the same schema, context and plugins.
// The key is checked at connection_init and again for every operation (a
// socket outlives its key's revocation otherwise); a revoked key's sockets are
// closed as soon as the KeyStore learns of it. Frames, operations per socket
// and sockets per key are bounded.
import type { Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { App } from '../app.js';
import { authError } from '../auth/check.js';
import { OPEN, type KeyStore, type Principal, type Refusal } from '../auth/keys.js';
import { maskError } from '../errors.js';
import type { Logger } from '../logger.js';

interface EnvelopRoot { execute: (a: ExecutionArgs) => unknown; subscribe: (a: ExecutionArgs) => unknown }

export interface WsOptions {
  /** Without a store every socket is let in (tests of the transport alone). */
  keys?: KeyStore;
  logger: Logger;
  /** WS_MAX_PAYLOAD_BYTES: a bigger frame closes the socket with 1009, before connection_init too. */
  maxPayloadBytes: number;
  /** WS_MAX_SUBSCRIPTIONS: operations in flight per socket. */
  maxSubscriptions: number;
  /** WS_MAX_SOCKETS_PER_KEY: open sockets per API key in this process (none with auth off: there is no key). */
  maxSocketsPerKey: number;
}

const TRY_AGAIN_LATER = 1013; // graphql-ws clients retry it; 4401 they do not
const CLOSE_FOR: Record<Refusal, [number, string]> = {
  unavailable: [TRY_AGAIN_LATER, 'API keys are not loaded yet; retry shortly'],
  missing: [CloseCode.Unauthorized, 'missing API key'],
  invalid: [CloseCode.Unauthorized, 'invalid or revoked API key'],
};

export function attachWebSocket(server: Server, app: App, opts: WsOptions): WebSocketServer {
  const { keys, logger } = opts;
  const wss = new WebSocketServer({ server, path: app.graphqlEndpoint, maxPayload: opts.maxPayloadBytes });
  const presented = new WeakMap<object, string>(); // the socket's Authorization value, re-checked per operation
  const byPrincipal = new Map<string, Set<WebSocket>>();
  const mask = maskError((err) => logger.error({ err }, 'unexpected error in a graphql-ws operation'),
    (err) => logger.warn({ err }, 'value refused by the database'));
  const limitExceeded = new GraphQLError(
    `Too many operations on this socket: at most ${opts.maxSubscriptions} at once (WS_MAX_SUBSCRIPTIONS); complete one first`,
    { extensions: { code: 'LIMIT_EXCEEDED' } });

  // An unexpected throw fails that operation only; graphql-ws would close the socket (4500) and every subscription on it.
  const contained = (run: (args: ExecutionArgs) => unknown) => async (args: ExecutionArgs): Promise<never> => {
    try {
      return await run(args) as never;
    } catch (err) {
      return { errors: [mask(err, 'Unexpected error.')] } as never;
    }
  };

  keys?.onRevoked((ids) => {
    for (const id of ids) {
      const reason = id === OPEN.id ? 'API key required: authentication is now on' : 'API key revoked';
      for (const socket of byPrincipal.get(id) ?? []) socket.close(CloseCode.Unauthorized, reason);
    }
  });

  const track = (id: string, socket: WebSocket) => {
    let sockets = byPrincipal.get(id);
    if (!sockets) byPrincipal.set(id, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && byPrincipal.get(id) === sockets) byPrincipal.delete(id);
    });
  };

  useServer({
    // Refusals close the socket with our own code and reason; returning false then makes graphql-ws' 4403 a no-op.
    onConnect: (ctx) => {
      if (!keys) return true;
      const socket = ctx.extra.socket;
      const params = ctx.connectionParams ?? {};
      const authorization = String(params.authorization ?? params.Authorization ?? '');
      const who = keys.authenticate(authorization);
      if (typeof who === 'string') {
        socket.close(...CLOSE_FOR[who]);
        return false;
      }
      if (who.id !== OPEN.id && (byPrincipal.get(who.id)?.size ?? 0) >= opts.maxSocketsPerKey) {
        socket.close(4429, `too many sockets for this API key (WS_MAX_SOCKETS_PER_KEY=${opts.maxSocketsPerKey})`);
        return false;
      }
      presented.set(ctx.extra, authorization);
      track(who.id, socket);
      return true;
    },
    execute: contained((args) => (args.rootValue as EnvelopRoot).execute(args)),
    subscribe: contained((args) => (args.rootValue as EnvelopRoot).subscribe(args)),
    // Whatever goes wrong here is returned as errors for this operation only: a throw would close the socket (4500).
    onSubscribe: async (ctx, _id, params) => {
      let principal: Principal | undefined;
      if (keys) {
        const who = keys.authenticate(presented.get(ctx.extra));
        if (typeof who === 'string') return [authError(who)];
        principal = who;
      }
      // This operation is already counted.
      if (Object.keys(ctx.subscriptions).length > opts.maxSubscriptions) return [limitExceeded];
      try {
        const { schema, execute, subscribe, contextFactory, parse, validate } = app.getEnveloped({
          ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params, principal,
        });
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document: parse(params.query), // throws on syntax errors and on the query limits (graphql-armor)
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors.map((e: GraphQLError) => mask(e, e.message) as GraphQLError) : args;
      } catch (err) {
        return [mask(err, 'Unexpected error.') as GraphQLError];
      }
    },
  }, wss);

  // ws reports an oversized frame as a socket error after closing with 1009; graphql-ws would console.error
  // it as an internal error. Log it as what it is, a client's doing (added after graphql-ws' own listener).
  wss.on('connection', (socket) => {
    const theirs = socket.listeners('error') as ((err: Error) => void)[];
    socket.removeAllListeners('error');
    socket.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') logger.warn({ limit: opts.maxPayloadBytes }, 'graphql-ws frame over WS_MAX_PAYLOAD_BYTES; socket closed (1009)');
      else for (const listener of theirs) listener.call(socket, err);
    });
  });
  return wss;
}
