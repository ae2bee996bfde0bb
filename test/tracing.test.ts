// Tracing through the real server with an in-memory exporter: the span tree of
// one decision (HTTP → query → one snapshot → its statements) in the caller's
// trace (traceparent), a mutation's span, and a span per subscription delivery.
import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items, ok, UPSERT, uid } from './helpers.js';
import { liveGateway, postAs, sseSubscribe, until, type LiveGateway } from './live-helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider();
provider.addSpanProcessor(new SimpleSpanProcessor(exporter));

let gw: LiveGateway;
const p = uid('otel');
beforeAll(async () => {
  gw = await liveGateway({}, undefined, undefined, { tracerProvider: provider });
  ok({ status: 200, ...(await postAs(gw.url, {}, UPSERT, { items: items(p, { a: {}, b: {} }) })).body });
});
afterAll(async () => {
  await gw?.stop();
  await provider.shutdown();
});

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
const DECISION = `query Decide($c: [ID!]!) { decisionContext(userId: "otel-u", sessionId: "otel-s", candidates: $c) {
  user { id recentPurchases { sku } } session { intent } candidates { sku eligible inventory { available } price { amountMinor } } } }`;

/** The finished spans of one trace, once its HTTP span has ended. */
async function traceOf(traceId: string): Promise<ReadableSpan[]> {
  const of = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  await until(() => of().some((s) => s.kind === SpanKind.SERVER));
  return of();
}
const children = (spans: ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanId === parent.spanContext().spanId);

describe('span tree', () => {
  it('one decision: POST /graphql (SERVER, under the caller\'s traceparent) → query.Decide → one snapshot → each SQL statement', async () => {
    const traceId = hex(32);
    const callerSpan = hex(16);
    const res = await postAs(gw.url, { traceparent: `00-${traceId}-${callerSpan}-01` }, DECISION, { c: [`${p}-a`, `${p}-b`] });
    expect(res.body.errors).toBeUndefined();
    const spans = await traceOf(traceId);

    const http = spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(http.map((s) => s.name)).toEqual(['POST /graphql']);
    expect(http[0]!.parentSpanId).toBe(callerSpan);
    expect(http[0]!.attributes['http.response.status_code']).toBe(200);

    const op = children(spans, http[0]!);
    expect(op.map((s) => s.name)).toEqual(['query.Decide']);

    const snapshots = spans.filter((s) => s.name === 'snapshot');
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]!.parentSpanId).toBe(op[0]!.spanContext().spanId);

    const statements = spans.filter((s) => s.name === 'sql');
    expect(statements.length).toBeGreaterThanOrEqual(2); // the facts statement and the state statement, at least
    for (const s of statements) {
      expect(s.parentSpanId).toBe(snapshots[0]!.spanContext().spanId);
      expect(String(s.attributes['db.statement'])).toMatch(/select/i);
    }
    // Nothing else in the trace: every span is one of these.
    expect(spans).toHaveLength(3 + statements.length);
  });

  it('without a traceparent a request starts a trace of its own', async () => {
    exporter.reset();
    await postAs(gw.url, {}, DECISION, { c: [`${p}-a`] });
    await until(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER));
    const http = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(http.parentSpanId).toBeUndefined();
    expect(exporter.getFinishedSpans().filter((s) => s.name === 'snapshot')).toHaveLength(1);
  });

  it('a mutation: POST /graphql → mutation.Write, and no snapshot (writes open their own transaction)', async () => {
    const traceId = hex(32);
    const res = await postAs(gw.url, { traceparent: `00-${traceId}-${hex(16)}-01` },
      'mutation Write($items: [ItemInput!]!) { upsertItems(items: $items) { count } }', { items: items(p, { c: {} }) });
    expect(res.body.errors).toBeUndefined();
    const spans = await traceOf(traceId);
    const http = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(children(spans, http).map((s) => s.name)).toEqual(['mutation.Write']);
    expect(spans.filter((s) => s.name === 'snapshot')).toHaveLength(0);
  });

  it('a subscription over SSE: subscription.Watch under the request\'s span, and one subscription.delivery span per result', async () => {
    const traceId = hex(32);
    const sub = sseSubscribe(gw.url, `subscription Watch { inventoryChanged(skus: ["${p}-a"]) { sku available } }`, {},
      { traceparent: `00-${traceId}-${hex(16)}-01` });
    await sub.ready;
    await until(() => gw.hub.subscriberCount > 0);
    for (const available of [3, 4]) {
      ok({ status: 200, ...(await postAs(gw.url, {}, 'mutation($s: ID!, $a: Int!) { setInventory(sku: $s, available: $a) { available } }', { s: `${p}-a`, a: available })).body });
    }
    await sub.waitFor(2);
    const deliveries = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.name === 'subscription.delivery');
    await until(() => deliveries().length >= 2);
    sub.close();
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const http = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(http).toBeDefined();
    await until(() => exporter.getFinishedSpans().some((s) => s.name === 'subscription.Watch' && s.spanContext().traceId === traceId));
    const subscription = exporter.getFinishedSpans().find((s) => s.name === 'subscription.Watch' && s.spanContext().traceId === traceId)!;
    expect(subscription.parentSpanId).toBe(http.spanContext().spanId);
    expect(deliveries()).toHaveLength(2);
    for (const d of deliveries()) expect(d.parentSpanId).toBe(subscription.spanContext().spanId);
  });
});
