// API keys with roles. A key is "dcg_<id>_<secret>"; only sha256(secret) is
// stored. Each process keeps the active keys in memory (no query per request),
// reloaded on NOTIFY api_keys (sent by create/revoke) and every second (the
// table is tiny; a missed NOTIFY still reaches open connections within ~1 s).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { parseRateSpec, type RateSpec } from './rate-limits.js';

export const ROLES = ['reader', 'subscriber', 'writer', 'merchandiser', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** A key holds one or more roles; what each allows is in roles.ts. */
export interface Principal { id: string; roles: readonly Role[]; name: string }

// Stored comma-separated in api_keys.role ("reader,subscriber"); unknown names are ignored.
const encodeRoles = (roles: readonly Role[]) => [...new Set(roles)].sort().join(',');
const decodeRoles = (stored: string): Role[] => stored.split(',').filter((r): r is Role => (ROLES as readonly string[]).includes(r));
export const parseRoles = (list: string): Role[] | null => {
  const roles = list.split(',').map((r) => r.trim());
  return roles.length && roles.every((r) => (ROLES as readonly string[]).includes(r)) ? roles as Role[] : null;
};

const CHANNEL = 'api_keys';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function createKey(sql: Sql, roles: Role | readonly Role[], name: string, rateLimit: string | null = null): Promise<{ id: string; key: string }> {
  const role = encodeRoles(typeof roles === 'string' ? [roles] : roles);
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  await sql.begin(async (tx) => {
    await tx`insert into api_keys (id, secret_hash, role, name, rate_limit) values (${id}, ${sha256(secret)}, ${role}, ${name}, ${rateLimit})`;
    await tx`select pg_notify(${CHANNEL}, '')`;
  });
  return { id, key: `dcg_${id}_${secret}` };
}

export async function revokeKey(sql: Sql, id: string): Promise<boolean> {
  return sql.begin(async (tx) => {
    const rows = await tx`update api_keys set revoked_at = now() where id = ${id} and revoked_at is null returning id`;
    await tx`select pg_notify(${CHANNEL}, '')`;
    return rows.length > 0;
  });
}

/** A key's own rate limit (a RATE_LIMITS spec such as "100/s:burst200"; null: its roles'). False when no active key has that id. */
export async function setKeyRateLimit(sql: Sql, id: string, rateLimit: string | null): Promise<boolean> {
  return sql.begin(async (tx) => {
    const rows = await tx`update api_keys set rate_limit = ${rateLimit} where id = ${id} and revoked_at is null returning id`;
    await tx`select pg_notify(${CHANNEL}, '')`;
    return rows.length > 0;
  });
}

export async function listKeys(sql: Sql) {
  const rows = await sql<{ id: string; role: string; name: string; rateLimit: string | null; createdAt: string; revokedAt: string | null }[]>`
    select id, role, name, rate_limit as "rateLimit", created_at as "createdAt", revoked_at as "revokedAt" from api_keys order by created_at`;
  return rows.map(({ role, ...k }) => ({ ...k, roles: decodeRoles(role) }));
}

/** The caller while auth is off (no key was ever created and AUTH_REQUIRED is false). */
export const OPEN: Principal = { id: 'open', roles: ['admin'], name: 'auth off: no keys' };

/** Why a caller is not let in: keys never read yet, no key presented, or a key that is not active. */
export type Refusal = 'unavailable' | 'missing' | 'invalid';

export interface KeyStoreOptions {
  /** AUTH_REQUIRED: auth on even with no key in the table. */
  required?: boolean;
  /** Reload interval; also the retry interval while keys were never read. */
  reloadMs?: number;
}

export class KeyStore {
  private keys = new Map<string, { hash: Buffer; role: string; roles: Role[]; name: string; rateLimit: RateSpec | null }>();
  private anyKeyEver = false;
  private loaded = false;
  private failing = false;
  private reading: Promise<void> | null = null;
  private again = false;
  private readonly revokedListeners = new Set<(ids: string[]) => void>();
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private readonly required: boolean;
  private readonly reloadMs: number;

  constructor(private readonly sql: Sql, private readonly logger: Logger, opts: KeyStoreOptions = {}) {
    this.required = opts.required ?? false;
    this.reloadMs = opts.reloadMs ?? 1000;
  }

  /** Keys were read successfully at least once; until then nobody is let in. */
  get ready(): boolean { return this.loaded; }

  /**
   * Auth is on when configured, or when a key exists — revoked ones included,
   * so revoking the last key locks the gateway instead of opening it. Only a
   * successful read can say "no keys": before one, callers get UNAVAILABLE.
   */
  get enabled(): boolean { return this.required || this.anyKeyEver; }

  async start(): Promise<void> {
    await this.reload();
    await this.listen();
    // Every second: retries a failed first read quickly, and catches a missed NOTIFY (or a lost listener).
    this.timer = setInterval(() => {
      if (!this.unlisten) void this.listen();
      void this.reload();
    }, this.reloadMs);
    this.timer.unref();
    if (this.loaded && !this.enabled) {
      this.logger.warn('NO API KEYS: the gateway is OPEN — anyone who reaches it can read, write and subscribe. '
        + 'Create a key with `npm run keys -- create admin <name>` to turn authentication on, or set AUTH_REQUIRED=true.');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.unlisten?.().catch(() => {});
    this.unlisten = undefined;
    await this.reading;
  }

  private async listen(): Promise<void> {
    try {
      const handle = await this.sql.listen(CHANNEL, () => void this.reload(), () => void this.reload());
      this.unlisten = handle.unlisten;
    } catch (err) {
      this.logger.warn({ err }, 'could not LISTEN for API key changes; relying on the periodic reload');
    }
  }

  /**
   * Read the keys. Concurrent calls fold into one more read after the current
   * one, so a NOTIFY that arrives mid-read is never lost and reads never
   * overlap (an older read finishing last cannot bring a revoked key back).
   */
  reload(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        await this.readOnce();
      } while (this.again);
    })().finally(() => { this.reading = null; });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let rows: { id: string; secretHash: string; role: string; name: string; rateLimit: string | null; revoked: boolean }[];
    try {
      rows = await this.sql<typeof rows>`
        select id, secret_hash as "secretHash", role, name, rate_limit as "rateLimit", revoked_at is not null as revoked from api_keys`;
    } catch (err) {
      if (!this.failing) {
        this.logger.error({ err }, this.loaded
          ? 'could not reload API keys; keeping the ones loaded, retrying every second'
          : 'could not read API keys: refusing every GraphQL request (UNAVAILABLE) until they load; retrying every second');
      }
      this.failing = true;
      return;
    }
    if (this.failing) this.logger.info('API keys loaded again');
    this.failing = false;
    const wasOn = this.loaded && this.enabled;
    const before = this.keys;
    this.keys = new Map(rows.filter((r) => !r.revoked)
      .map((r) => [r.id, {
        hash: Buffer.from(r.secretHash, 'hex'), role: r.role, roles: decodeRoles(r.role), name: r.name,
        // Written through setKeyRateLimit, which validates; a hand-edited bad value falls back to the roles' limit.
        rateLimit: r.rateLimit ? parseRateSpec(r.rateLimit) : null,
      }]));
    this.anyKeyEver = rows.length > 0;
    this.loaded = true;
    const gone = [...before].filter(([id, k]) => this.keys.get(id)?.role !== k.role).map(([id]) => id);
    if (!wasOn && this.enabled) gone.push(OPEN.id); // auth just turned on: what was let in open must end
    if (gone.length) for (const cb of this.revokedListeners) cb(gone);
  }

  /**
   * Called with the ids of keys that stopped being active as loaded (revoked,
   * deleted, role changed) right after a reload learns of it; with OPEN.id when
   * auth turns on. Returns an unsubscribe.
   */
  onRevoked(cb: (ids: string[]) => void): () => void {
    this.revokedListeners.add(cb);
    return () => this.revokedListeners.delete(cb);
  }

  /** The caller for an Authorization value, or why not. */
  authenticate(authorization: string | null | undefined): Principal | Refusal {
    if (!this.loaded) return 'unavailable';
    if (!this.enabled) return OPEN;
    if (!authorization?.trim()) return 'missing';
    return this.verify(authorization) ?? 'invalid';
  }

  /** Whether a principal authenticated earlier still may act (its key not revoked; OPEN only while auth is off). */
  isActive(principal: Principal): boolean {
    if (!this.loaded) return false;
    if (principal.id === OPEN.id) return !this.enabled;
    return this.keys.get(principal.id)?.role === encodeRoles(principal.roles);
  }

  /** The key's own rate limit, as last loaded (null: its roles' limit applies). */
  rateLimitOf(id: string): RateSpec | null {
    return this.keys.get(id)?.rateLimit ?? null;
  }

  /** The key's principal, or null for a missing, malformed, unknown or revoked key. */
  verify(presented: string | null | undefined): Principal | null {
    const m = /^(?:Bearer\s+)?dcg_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(presented?.trim() ?? '');
    if (!m) return null;
    const entry = this.keys.get(m[1]!);
    if (!entry) return null;
    const hash = Buffer.from(sha256(m[2]!), 'hex');
    return timingSafeEqual(hash, entry.hash) ? { id: m[1]!, roles: entry.roles, name: entry.name } : null;
  }
}
