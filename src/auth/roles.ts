// What each role may do, the one rule both the request check
// (auth/check.ts) and the field check (builder.ts, on every root field)
// apply. The field check makes the rule hold whatever executes: a write
// resolver refuses a caller that may not write, even if a different operation
// than the one authorized reaches execution.
import type { Principal, Role } from './keys.js';

export type OperationKind = 'query' | 'mutation' | 'subscription';

/**
 * read: queries. subscribe: subscriptions. write: every mutation. flag:
 * setPolicyFlag on SKUs and categories (what the live board does). userFlags:
 * USER-scope flags, who is flagged for fraud and why (personal data).
 * forceLog: decisionContext(log: true), a write to the decision log beyond
 * sampling (so a reader-only key cannot fill it). decisionLog: read the log
 * and its outcomes (every logged user's context: personal data).
 */
export type Permission = 'read' | 'subscribe' | 'write' | 'flag' | 'userFlags' | 'forceLog' | 'decisionLog';

export const GRANTS: Record<Role, readonly Permission[]> = {
  reader: ['read'],
  subscriber: ['subscribe'],
  writer: ['write', 'forceLog'],
  merchandiser: ['read', 'subscribe', 'flag'],
  admin: ['read', 'subscribe', 'write', 'flag', 'userFlags', 'forceLog', 'decisionLog'],
};

export const may = (principal: Principal | undefined, permission: Permission): boolean =>
  principal !== undefined && principal.roles.some((r) => GRANTS[r].includes(permission));

const NEEDS: Record<OperationKind, Role> = { query: 'reader', mutation: 'writer', subscription: 'subscriber' };

/** The smallest role that runs this kind of operation (for messages). */
export const roleFor = (kind: OperationKind): Role => NEEDS[kind];

/** Whether the caller may run some operation of this kind (the fields then check their own permission). */
export function mayRun(principal: Principal | undefined, kind: OperationKind): boolean {
  if (kind === 'query') return may(principal, 'read');
  if (kind === 'subscription') return may(principal, 'subscribe');
  return may(principal, 'write') || may(principal, 'flag');
}

/** The caller when no key store is configured at all (tests, embedded tools): everything allowed. */
export const UNGUARDED: Principal = { id: 'open', roles: ['admin'], name: 'no key store' };

export const canSeeUserFlags = (principal: Principal | undefined): boolean => may(principal, 'userFlags');

export const describeRoles = (principal: Principal | undefined): string => principal?.roles.join(', ') || 'none';
