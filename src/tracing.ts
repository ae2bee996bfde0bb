// OpenTelemetry tracing, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set (then
// exported over OTLP/HTTP); off, none of these plugins or wrappers is installed.
// One trace per request, continuing the caller's `traceparent`:
//   POST /graphql (SERVER) → query.<name> | mutation.<name> | subscription.<name> (@envelop/opentelemetry)
//     → snapshot (the REPEATABLE READ transaction) → one span per SQL statement in it
//     → subscription.delivery, one per result a subscription sends.
import { getCurrentOtelContext, setCurrentOtelContext, useOpenTelemetry } from '@envelop/opentelemetry';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context as OtelContext, type Span, type TextMapGetter, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Queryable } from './db/client.js';

/** The exporting provider when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the OTEL_EXPORTER_OTLP_* variables), else undefined. */
export function startTracing(env: NodeJS.ProcessEnv = process.env): NodeTracerProvider | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  const provider = new NodeTracerProvider({ resource: new Resource({ 'service.name': env.OTEL_SERVICE_NAME || 'decision-gateway' }) });
  provider.addSpanProcessor(new BatchSpanProcessor(new OTLPTraceExporter()));
  provider.register(); // async-local context and the W3C propagator, for any other instrumentation
  return provider;
}

const w3c = new W3CTraceContextPropagator();
const headerGetter: TextMapGetter<Headers> = {
  keys: (h) => [...h.keys()],
  get: (h, key) => h.get(key) ?? undefined,
};

/** What the snapshot plugin (reads/snapshot.ts) calls to trace its transaction and statements. */
export interface SnapshotTracing {
  /** Runs `fn` (opening and running the transaction) in a `snapshot` span under the operation's span; `fn` gets the statement wrapper. */
  snapshot<T>(graphqlContext: object, fn: (traceStatements: <Q extends Queryable>(tx: Q) => Q) => Promise<T>): Promise<T>;
}

export interface Tracing { plugins: Plugin[]; snapshot: SnapshotTracing }

const failed = (span: Span, err: unknown) => {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR });
};

export function createTracing(provider: TracerProvider): Tracing {
  const tracer = provider.getTracer('decision-gateway');
  const requests = new WeakMap<Request, Span>();

  const http: Plugin = {
    onRequest({ request, url }) {
      if (!url.pathname.endsWith('/graphql')) return;
      const parent = w3c.extract(ROOT_CONTEXT, request.headers, headerGetter);
      requests.set(request, tracer.startSpan(`${request.method} /graphql`, {
        kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': url.pathname },
      }, parent));
    },
    // The operation spans (@envelop/opentelemetry) start under the request's span.
    onContextBuilding({ context }) {
      const span = (context as { request?: Request }).request && requests.get((context as { request: Request }).request);
      if (span) setCurrentOtelContext(context, trace.setSpan(ROOT_CONTEXT, span));
    },
    // For SSE: when the stream starts, not when it ends (its deliveries have spans of their own).
    onResponse({ request, response }) {
      const span = requests.get(request);
      if (!span) return;
      requests.delete(request);
      span.setAttribute('http.response.status_code', response.status);
      if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };

  const deliveries: Plugin = {
    onSubscribe({ args }) {
      const name = getOperationAST(args.document, args.operationName)?.name?.value ?? 'anonymous';
      return {
        onSubscribeResult: () => ({
          onNext: ({ result }) => {
            const span = tracer.startSpan('subscription.delivery', {
              attributes: { 'graphql.operation.name': name, 'graphql.errors': result.errors?.length ?? 0 },
            }, getCurrentOtelContext(args.contextValue));
            span.end();
          },
        }),
      };
    },
  };

  const statementsUnder = (parent: OtelContext) => <Q extends Queryable>(tx: Q): Q => new Proxy(tx, {
    // A tagged-template call: the statement runs when first awaited (postgres.js queries are lazy), so the span starts there.
    apply(target, self, args: [TemplateStringsArray, ...unknown[]]) {
      const query = Reflect.apply(target as never, self, args) as Promise<unknown>;
      const then = query.then;
      query.then = function traced(onOk, onErr) {
        query.then = then;
        const span = tracer.startSpan('sql', {
          kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.statement': args[0].join('$?').replace(/\s+/g, ' ').trim() },
        }, parent);
        return then.call(query, (v) => { span.end(); return onOk ? onOk(v) : v; }, (e) => {
          failed(span, e);
          span.end();
          if (onErr) return onErr(e);
          throw e;
        }) as never;
      };
      return query;
    },
  });

  const snapshot: SnapshotTracing = {
    async snapshot(graphqlContext, fn) {
      const span = tracer.startSpan('snapshot', {
        kind: SpanKind.INTERNAL, attributes: { 'db.system': 'postgresql', 'db.transaction.isolation': 'repeatable read read only' },
      }, getCurrentOtelContext(graphqlContext));
      try {
        return await fn(statementsUnder(trace.setSpan(ROOT_CONTEXT, span)));
      } catch (err) {
        failed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  };

  return {
    plugins: [
      http,
      // Operation spans; no resolver spans (a 50-candidate decision would make thousands), no variables (user ids).
      useOpenTelemetry({ resolvers: false, variables: false, result: false }, provider as never, SpanKind.INTERNAL, {}, 'decision-gateway') as unknown as Plugin,
      deliveries,
    ],
    snapshot,
  };
}
