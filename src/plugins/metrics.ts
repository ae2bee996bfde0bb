// Prometheus metrics at GET /metrics: request duration by operation, errors by
// code, SQL statements per decision, pool use, subscribers, change-log lag.
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import client from 'prom-client';
import type { Context } from '../context.js';
import type { Sql } from '../db/client.js';
import { snapshotsInFlight } from '../db/snapshot.js';
import { logBounds } from '../live/changelog.js';
import type { ChangeHub } from '../live/hub.js';

interface Op { type: string; name: string }

export function useMetrics(sql: Sql, hub: ChangeHub | undefined, poolMax: number): Plugin {
  const registry = new client.Registry();
  // With WORKERS > 1 each process answers for itself; the pid tells the series apart.
  registry.setDefaultLabels({ pid: String(process.pid) });
  client.collectDefaultMetrics({ register: registry });

  const duration = new client.Histogram({
    name: 'gateway_request_duration_seconds', help: 'GraphQL request duration, request to result, by operation',
    labelNames: ['operation_type', 'operation_name'] as const, registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  const errors = new client.Counter({
    name: 'gateway_errors_total', help: 'GraphQL errors returned, by extensions.code',
    labelNames: ['code'] as const, registers: [registry],
  });
  const statements = new client.Histogram({
    name: 'gateway_sql_statements_per_decision', help: 'SQL statements per query operation, BEGIN and COMMIT included',
    buckets: [3, 4, 5, 6, 7, 8, 10, 15], registers: [registry],
  });
  new client.Gauge({
    name: 'gateway_pool_snapshot_connections', help: 'Pool connections held by snapshot transactions now',
    registers: [registry], collect() { this.set(snapshotsInFlight.count); },
  });
  new client.Gauge({ name: 'gateway_pool_max', help: 'Pool size (PG_POOL_MAX)', registers: [registry], collect() { this.set(poolMax); } });
  new client.Gauge({
    name: 'gateway_subscribers', help: 'Open subscriptions in this process',
    registers: [registry], collect() { this.set(hub?.subscriberCount ?? 0); },
  });
  new client.Gauge({
    name: 'gateway_change_log_lag', help: 'Committed change-log entries this process has not dispatched yet',
    registers: [registry],
    async collect() {
      if (!hub) return;
      const { head } = await logBounds(sql).catch(() => ({ head: hub.dispatchedThrough }));
      this.set(Math.max(0, head - hub.dispatchedThrough));
    },
  });

  const started = new WeakMap<Request, number>();
  const operations = new WeakMap<Request, Op>();
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname === '/metrics') {
        return registry.metrics().then((text) =>
          endResponse(new fetchAPI.Response(text, { headers: { 'content-type': registry.contentType } })));
      }
      started.set(request, performance.now());
    },
    onExecute({ args }) {
      const ctx = args.contextValue as unknown as Context & { request: Request };
      const op = getOperationAST(args.document, args.operationName);
      operations.set(ctx.request, { type: op?.operation ?? 'unknown', name: op?.name?.value ?? 'anonymous' });
      if (op?.operation !== 'query') return;
      return { onExecuteDone: () => { if (ctx.loaders) statements.observe(ctx.loaders.statements + 2); } };
    },
    onResultProcess({ request, result }) {
      const t0 = started.get(request);
      const op = operations.get(request) ?? { type: 'invalid', name: 'none' };
      if (t0 !== undefined) duration.observe({ operation_type: op.type, operation_name: op.name }, (performance.now() - t0) / 1000);
      for (const r of Array.isArray(result) ? result : [result]) {
        if (r && typeof r === 'object' && 'errors' in r) {
          for (const e of r.errors ?? []) errors.inc({ code: String(e.extensions?.code ?? 'NONE') });
        }
      }
    },
  };
}
