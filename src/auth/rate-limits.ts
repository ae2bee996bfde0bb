// Per-key request rates (RATE_LIMITS per role, api_keys.rate_limit per key),
// counted in a store every gateway process shares: Postgres (the
// rate_limit_buckets table) by default, Redis when RATE_LIMIT_REDIS_URL is set.
// rate-limiter-flexible does the counting; it counts in fixed windows, so the
// bucket is its BurstyRateLimiter: `rate` per 1 s window, plus `burst − rate`
// more per BURST_WINDOW_S for a key that was quiet.
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type IRateLimiterOptions } from 'rate-limiter-flexible';
import { createClient } from 'redis';
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { ROLES, type Principal } from './keys.js';

/** A parsed limit: `rate` operations per `per` seconds, up to `burst` at once. */
export interface RateSpec { text: string; rate: number; per: number; burst: number }

/** Seconds over which the burst allowance (burst − rate) is given back. */
export const BURST_WINDOW_S = 10;

const SPEC = /^(\d+)\/(s|m)(?::burst(\d+))?$/;

/** "200/s", "600/m", "200/s:burst400"; null when malformed. */
export function parseRateSpec(raw: string): RateSpec | null {
  const m = SPEC.exec(raw.trim());
  if (!m) return null;
  const rate = Number(m[1]);
  const burst = m[3] === undefined ? rate : Number(m[3]);
  if (rate < 1 || burst < rate) return null;
  return { text: raw.trim(), rate, per: m[2] === 's' ? 1 : 60, burst };
}

/** RATE_LIMITS: `role=spec,…` (`*` for any key none of whose roles is listed). Throws naming the bad entry. */
export function parseRateLimits(raw: string): Map<string, RateSpec> {
  const out = new Map<string, RateSpec>();
  for (const entry of raw.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [role, spec] = entry.split('=').map((s) => s.trim());
    const parsed = spec ? parseRateSpec(spec) : null;
    if (!role || !parsed) throw new Error(`RATE_LIMITS: "${entry}" is not role=N/s[:burstM] (or N/m), e.g. reader=200/s:burst400`);
    if (role !== '*' && !(ROLES as readonly string[]).includes(role)) throw new Error(`RATE_LIMITS: "${role}" is not a role (${ROLES.join(', ')}, or * for the rest)`);
    out.set(role, parsed);
  }
  return out;
}

/** Counters for /metrics (plugins/metrics.ts registers them). */
export const rateLimitStats = { limited: 0, storeErrors: 0 };

/** Either a key may go on, or how long until it may. */
export type Verdict = { ok: true } | { ok: false; retryAfterS: number; spec: RateSpec };

export interface RateLimiterOptions {
  sql: Sql;
  /** RATE_LIMITS, parsed. */
  limits: Map<string, RateSpec>;
  /** A key's own limit (api_keys.rate_limit), which wins over its roles'. */
  overrideOf?: (keyId: string) => RateSpec | null;
  /** RATE_LIMIT_REDIS_URL: count in Redis instead of Postgres. */
  redisUrl?: string;
  logger: Logger;
}

type Limiter = { consume(key: string, points?: number): Promise<RateLimiterRes> };

/**
 * Decides whether a principal may run one more operation. Fails to per-process
 * counting (rate-limiter-flexible's insurance limiter) when the store errs:
 * each process then enforces the limit on its own, logged and counted.
 */
export class RateLimiter {
  private readonly limiters = new Map<string, Limiter>();
  private redis: ReturnType<typeof createClient> | undefined;
  private lastWarn = 0;

  constructor(private readonly opts: RateLimiterOptions) {}

  /** Whether any limit applies at all (RATE_LIMITS set); with none the plugin is left out. */
  static configured(limits: Map<string, RateSpec>): boolean { return limits.size > 0; }

  async start(): Promise<void> {
    if (!this.opts.redisUrl) return;
    this.redis = createClient({ url: this.opts.redisUrl, socket: { connectTimeout: 2000, reconnectStrategy: () => 500 } });
    this.redis.on('error', (err: unknown) => this.storeFailed(err));
    // Not awaited: a gateway whose Redis is down still starts (counting per process until Redis is back).
    this.redis.connect().catch((err: unknown) => this.storeFailed(err));
  }

  async stop(): Promise<void> {
    await this.redis?.close().catch(() => {});
  }

  /** The limit that applies to a principal: its key's own, else its roles' most generous, else `*`. */
  specFor(principal: Principal): RateSpec | null {
    const own = this.opts.overrideOf?.(principal.id);
    if (own) return own;
    let best: RateSpec | null = null;
    for (const role of principal.roles) {
      const s = this.opts.limits.get(role);
      if (s && (!best || s.rate / s.per > best.rate / best.per)) best = s;
    }
    return best ?? this.opts.limits.get('*') ?? null;
  }

  async take(principal: Principal): Promise<Verdict> {
    const spec = this.specFor(principal);
    if (!spec) return { ok: true };
    try {
      await this.limiterFor(spec).consume(principal.id, 1);
      return { ok: true };
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      rateLimitStats.limited++;
      return { ok: false, retryAfterS: Math.max(1, Math.ceil(res.msBeforeNext / 1000)), spec };
    }
  }

  private storeFailed(err: unknown): void {
    rateLimitStats.storeErrors++;
    const now = Date.now();
    if (now - this.lastWarn < 10_000) return; // one line per 10 s, the metric counts every one
    this.lastWarn = now;
    this.opts.logger.warn({ err }, 'rate-limit store failing: each gateway process now limits on its own until it is back');
  }

  private limiterFor(spec: RateSpec): Limiter {
    let limiter = this.limiters.get(spec.text);
    if (limiter) return limiter;
    // The prefix holds the spec: changing a key's limit starts it on fresh counters.
    const base = `rl:${spec.text}`;
    const main = this.store({ keyPrefix: base, points: spec.rate, duration: spec.per });
    limiter = spec.burst > spec.rate
      ? new BurstyRateLimiter(main as never, this.store({ keyPrefix: `${base}:burst`, points: spec.burst - spec.rate, duration: BURST_WINDOW_S }) as never)
      : main;
    this.limiters.set(spec.text, limiter);
    return limiter;
  }

  private store(o: IRateLimiterOptions): Limiter {
    const onFail = () => this.storeFailed(new Error('rate-limit store error'));
    const insuranceLimiter = new (class extends RateLimiterMemory {
      override consume(key: string | number, points?: number, options?: Record<string, unknown>) {
        onFail();
        return super.consume(key, points, options);
      }
    })(o);
    if (this.redis) {
      return new RateLimiterRedis({ ...o, storeClient: this.redis, useRedisPackage: true, rejectIfRedisNotReady: true, insuranceLimiter });
    }
    return new RateLimiterPostgres({
      ...o, storeClient: pgAdapter(this.opts.sql), storeType: 'pool', tableName: 'rate_limit_buckets', tableCreated: true, insuranceLimiter,
    });
  }
}

/** node-postgres' pool.query, as rate-limiter-flexible calls it, on postgres.js (the table is migration 0007's). */
const pgAdapter = (sql: Sql) => ({
  query: ({ text, values }: { text: string; values?: unknown[] }) =>
    sql.unsafe(text, (values ?? []) as never[], { prepare: true }).then((rows) => ({ rows })),
});
