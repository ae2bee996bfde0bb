// API keys with roles. A key is "dcg_<id>_<secret>"; only sha256(secret) is
// stored. Each process keeps the active keys in memory (no query per request),
// reloaded on NOTIFY api_keys (sent by create/revoke) and every 30 s.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';

export const ROLES = ['reader', 'subscriber', 'writer', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export interface Principal { id: string; role: Role; name: string }

const CHANNEL = 'api_keys';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function createKey(sql: Sql, role: Role, name: string): Promise<{ id: string; key: string }> {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  await sql.begin(async (tx) => {
    await tx`insert into api_keys (id, secret_hash, role, name) values (${id}, ${sha256(secret)}, ${role}, ${name})`;
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

export async function listKeys(sql: Sql) {
  return sql<{ id: string; role: Role; name: string; createdAt: string; revokedAt: string | null }[]>`
    select id, role, name, created_at as "createdAt", revoked_at as "revokedAt" from api_keys order by created_at`;
}

export class KeyStore {
  private keys = new Map<string, { hash: Buffer; role: Role; name: string }>();
  private anyKeyEver = false;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly sql: Sql, private readonly logger: Logger) {}

  /**
   * Auth is on whenever a key exists — revoked ones included, so revoking the
   * last key locks the gateway instead of opening it.
   */
  get enabled(): boolean { return this.anyKeyEver; }

  async start(): Promise<void> {
    await this.reload();
    const handle = await this.sql.listen(CHANNEL, () => void this.reload(), () => void this.reload());
    this.unlisten = handle.unlisten;
    this.timer = setInterval(() => void this.reload(), 30_000);
    this.timer.unref();
    if (!this.enabled) {
      this.logger.warn('NO API KEYS: the gateway is OPEN — anyone who reaches it can read, write and subscribe. '
        + 'Create a key with `npm run keys -- create admin <name>` to turn authentication on.');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.unlisten?.().catch(() => {});
  }

  async reload(): Promise<void> {
    try {
      const rows = await this.sql<{ id: string; secretHash: string; role: Role; name: string; revoked: boolean }[]>`
        select id, secret_hash as "secretHash", role, name, revoked_at is not null as revoked from api_keys`;
      this.anyKeyEver = rows.length > 0;
      this.keys = new Map(rows.filter((r) => !r.revoked)
        .map((r) => [r.id, { hash: Buffer.from(r.secretHash, 'hex'), role: r.role, name: r.name }]));
    } catch (err) {
      this.logger.warn({ err }, 'could not reload API keys; keeping the ones loaded');
    }
  }

  /** The key's principal, or null for a missing, malformed, unknown or revoked key. */
  verify(presented: string | null | undefined): Principal | null {
    const m = /^(?:Bearer\s+)?dcg_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(presented?.trim() ?? '');
    if (!m) return null;
    const entry = this.keys.get(m[1]!);
    if (!entry) return null;
    const hash = Buffer.from(sha256(m[2]!), 'hex');
    return timingSafeEqual(hash, entry.hash) ? { id: m[1]!, role: entry.role, name: entry.name } : null;
  }
}
