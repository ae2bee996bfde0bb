// graphql-ws on the same /graphql path as HTTP and SSE, executed through
// yoga's envelop so subscriptions get the same schema, context and plugins.
// The key is checked at connection_init and again for every operation (a
// socket outlives its key's revocation otherwise); a revoked key's sockets are
// closed as soon as the KeyStore learns of it. Frames, operations per socket
// and sockets per key are bounded. Every stream a socket starts is ended when
// the client completes it or the socket closes, also when that happens while
// the operation is still being set up.
import type { Server } from 'node:http';
import { documentTooDeep } from '../plugins/limits.js';
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { CloseCode, handleProtocols, makeServer, MessageType, parseMessage, stringifyMessage, type Context, type SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { App } from '../app.js';
import { authError } from '../auth/check.js';
import { OPEN, type KeyStore, type Principal, type Refusal } from '../auth/keys.js';
import { DomainError, maskError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TrustedDocuments } from '../plugins/trusted-documents.js';
import type { RateLimiter } from '../auth/rate-limits.js';
import { UNGUARDED } from '../auth/roles.js';
import { markRateCounted, rateRefusal } from '../plugins/rate-limits.js';

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
  /** TRUSTED_DOCUMENTS allow/only: the same rule as over HTTP (a subscribe's query "" plus extensions.persistedQuery). */
  trusted?: TrustedDocuments;
  /** RATE_LIMITS: each subscribe counts, before its document is parsed (plugins/rate-limits.ts). */
  rateLimiter?: RateLimiter;
}

const TRY_AGAIN_LATER = 1013; // graphql-ws clients retry it; 4401 they do not
const CLOSE_FOR: Record<Refusal, [number, string]> = {
  unavailable: [TRY_AGAIN_LATER, 'API keys are not loaded yet; retry shortly'],
  missing: [CloseCode.Unauthorized, 'missing API key'],
  invalid: [CloseCode.Unauthorized, 'invalid or revoked API key'],
};

/** A socket's ids between onSubscribe and onOperation, and the streams it has running. */
interface SocketOps { starting: Set<string>; streams: Set<AsyncIterator<unknown>>; closed: boolean }

const isAsyncIterable = (x: unknown): x is AsyncIterable<unknown> =>
  typeof (x as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';

/**
 * `it`, in `streams` until it has ended; ended at most once. A plain object, not an async
 * generator: a generator's return() waits for its pending next(), i.e. for the next event.
 */
function tracked<T>(it: AsyncIterator<T>, streams: Set<AsyncIterator<unknown>>): AsyncIterableIterator<T> {
  let ended = false;
  const end = () => { ended = true; streams.delete(self); };
  const self: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => self,
    async next() {
      try {
        const r = await it.next();
        if (r.done) end();
        return r;
      } catch (err) {
        end();
        throw err;
      }
    },
    async return(value?: unknown) {
      if (!ended) {
        end();
        await it.return?.(value);
      }
      return { done: true, value };
    },
  };
  streams.add(self);
  return self;
}

const KEEP_ALIVE_MS = 12_000; // graphql-ws' useServer default

/** The type of a well-formed graphql-ws message that only servers send (next, error, connection_ack), else undefined. */
function serverOnlyType(text: string): string | undefined {
  try {
    const { type } = parseMessage(text);
    return type === MessageType.Next || type === MessageType.Error || type === MessageType.ConnectionAck ? type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A copy without `extensions.http`: the status and headers yoga answers an HTTP request with (validation errors,
 * trusted-document refusals carry them) mean nothing in a graphql-ws message; over HTTP yoga strips them itself.
 */
function withoutHttp(e: GraphQLError): GraphQLError {
  if (e.extensions?.http === undefined) return e;
  const { http: _http, ...extensions } = e.extensions;
  return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions });
}

// A non-string Authorization (an object, a number) is presented as this: no key looks like it.
const UNREADABLE_KEY = 'unreadable';

export function attachWebSocket(server: Server, app: App, opts: WsOptions): WebSocketServer {
  const { keys, logger } = opts;
  const wss = new WebSocketServer({ server, path: app.graphqlEndpoint, maxPayload: opts.maxPayloadBytes, handleProtocols });
  const presented = new WeakMap<object, string>(); // the socket's Authorization value, re-checked per operation
  const byPrincipal = new Map<string, Set<WebSocket>>();
  const mask = maskError((err) => logger.error({ err }, 'unexpected error in a graphql-ws operation'),
    (err) => logger.warn({ err }, 'value refused by the database'));
  const reused = (id: string) => new DomainError('BAD_USER_INPUT', `Operation id "${id}" is still being set up for an earlier `
    + 'subscribe that was completed; use another id, or this one again once that has ended');
  const opsBySocket = new WeakMap<WebSocket, SocketOps>();
  const opsOf = (socket: WebSocket) => {
    let ops = opsBySocket.get(socket);
    if (!ops) opsBySocket.set(socket, (ops = { starting: new Set(), streams: new Set(), closed: false }));
    return ops;
  };
  const end = (stream: AsyncIterator<unknown>) => void stream.return?.()
    .catch((err: unknown) => logger.warn({ err }, 'ending a graphql-ws stream failed'));
  const limitExceeded = new DomainError('LIMIT_EXCEEDED',
    `Too many operations on this socket: at most ${opts.maxSubscriptions} at once (WS_MAX_SUBSCRIPTIONS); complete one first`);

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

  const graphqlWs = makeServer<Record<string, unknown> | undefined, Extra>({
    // Refusals close the socket with our own code and reason; returning false then makes graphql-ws' 4403 a no-op.
    onConnect: (ctx) => {
      if (!keys) return true;
      const socket = ctx.extra.socket;
      const params = ctx.connectionParams ?? {};
      const presentedKey = params.authorization ?? params.Authorization;
      // Never String() it: a client's object can make that throw (a 4500 and a stack trace).
      const authorization = typeof presentedKey === 'string' ? presentedKey : presentedKey == null ? '' : UNREADABLE_KEY;
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
    onSubscribe: async (ctx, id, params) => {
      const ops = opsOf(ctx.extra.socket);
      if (ops.starting.has(id)) {
        // graphql-ws tracks operations by id alone: this one would take over the slot of the earlier one
        // (completed, else graphql-ws would have closed with 4409), which would then run on unseen. Refuse
        // it, answering here: graphql-ws' entry for it goes first, so that graphql-ws sends nothing for it
        // and the earlier one, once set up, finds its id gone (onOperation ends it).
        delete ctx.subscriptions[id];
        ctx.extra.socket.send(stringifyMessage({ id, type: MessageType.Error, payload: [reused(id).toJSON()] }));
        return [reused(id)];
      }
      ops.starting.add(id); // until onOperation
      const prepared = await prepare(ctx, params);
      if (!Array.isArray(prepared)) return prepared;
      ops.starting.delete(id);
      return prepared.map(withoutHttp);
    },
    // Always reached once onSubscribe has returned arguments (they carry an operation, context and root).
    onOperation: (ctx, id, _params, _args, result) => {
      const ops = opsOf(ctx.extra.socket);
      ops.starting.delete(id);
      if (!isAsyncIterable(result)) return;
      const stream = tracked((result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator](), ops.streams);
      // Completed, or its socket closed, while it was being set up: nothing would ever read it.
      if (ops.closed || !(id in ctx.subscriptions)) end(stream);
      return stream;
    },
  });

  async function prepare(ctx: Context<Record<string, unknown> | undefined, Extra>, params: SubscribePayload): Promise<ExecutionArgs | GraphQLError[]> {
    let principal: Principal | undefined;
    if (keys) {
      const who = keys.authenticate(presented.get(ctx.extra));
      if (typeof who === 'string') return [authError(who)];
      principal = who;
    }
    // This operation is already counted.
    if (Object.keys(ctx.subscriptions).length > opts.maxSubscriptions) return [limitExceeded];
    let limited = false;
    try {
      // Before parse and validation (most of the work): a document that fails them counts too.
      if (opts.rateLimiter) {
        const refused = await rateRefusal(opts.rateLimiter, principal ?? UNGUARDED, false);
        if (refused) return [refused];
        limited = true;
      }
      const { schema, execute, subscribe, contextFactory, parse, validate } = app.getEnveloped({
        ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params, principal,
      });
      const trusted = opts.trusted ? opts.trusted.resolve(params, principal) : { text: params.query };
      if (trusted instanceof GraphQLError) return [trusted];
      let document: DocumentNode;
      if ('document' in trusted) {
        document = trusted.document; // a trusted document: parsed and validated when the manifest was loaded
      } else {
        // Before parse: graphql-js recurses over nesting, and a parse-time throw would lose its code.
        const tooDeep = documentTooDeep(trusted.text);
        if (tooDeep) return [tooDeep];
        document = parse(trusted.text); // throws on syntax errors and on the query limits (graphql-armor)
        const errors = validate(schema, document);
        if (errors.length) return errors.map((e: GraphQLError) => mask(e, e.message) as GraphQLError);
      }
      // graphql-ws' own check, made here: failing it there would skip onOperation. With yoga's code, as over HTTP.
      if (!getOperationAST(document, params.operationName)) {
        return [new DomainError('OPERATION_RESOLUTION_FAILURE', 'Could not determine what operation to execute: operationName names no '
          + 'operation of the document, or is missing where it holds several')];
      }
      const contextValue = await contextFactory();
      if (limited) markRateCounted(contextValue);
      return {
        schema,
        operationName: params.operationName,
        document,
        variableValues: params.variables,
        contextValue,
        rootValue: { execute, subscribe },
      };
    } catch (err) {
      return [mask(err, 'Unexpected error.') as GraphQLError];
    }
  }

  // graphql-ws' protocol on ws sockets: useServer's glue, with the errors it would console.error logged
  // (or, when they are the client's doing, answered) instead.
  wss.on('error', (err) => logger.error({ err }, 'WebSocket server error'));
  wss.on('connection', (socket, request) => {
    let alive = true; // a socket that has not answered the previous ping by the next one is dropped
    const keepAlive = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, KEEP_ALIVE_MS);
    socket.on('pong', () => { alive = true; });
    const closed = graphqlWs.opened({
      protocol: socket.protocol,
      send: (data) => new Promise<void>((resolve, reject) => {
        if (socket.readyState !== socket.OPEN) return resolve();
        socket.send(data, (err) => (err ? reject(err) : resolve()));
      }),
      close: (code, reason) => socket.close(code, reason),
      onMessage: (handle) => socket.on('message', (data) => {
        const text = String(data);
        handle(text).catch((err: unknown) => {
          // graphql-ws throws on a well-formed message of a type only servers send: the client's doing.
          const type = serverOnlyType(text);
          if (type) return socket.close(CloseCode.BadRequest, `Invalid message received: ${type} is sent by servers only`);
          logger.error({ err }, 'unexpected error handling a graphql-ws message; socket closed (4500)');
          socket.close(CloseCode.InternalServerError, 'Internal server error');
        });
      }),
    }, { socket, request });
    socket.once('close', (code, reason) => {
      clearInterval(keepAlive);
      closed(code, String(reason)).catch((err: unknown) => logger.error({ err }, 'graphql-ws close handling failed'));
      const ops = opsOf(socket);
      ops.closed = true;
      for (const stream of ops.streams) end(stream);
    });
    // ws closes the socket itself on a bad frame (1009 oversized, 1002, 1007) and then reports it here.
    socket.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') logger.warn({ limit: opts.maxPayloadBytes }, 'graphql-ws frame over WS_MAX_PAYLOAD_BYTES; socket closed (1009)');
      else logger.warn({ code: err.code, reason: err.message }, 'invalid WebSocket frame; socket closed');
    });
  });
  return wss;
}
