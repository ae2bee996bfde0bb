// Which role may run which kind of operation: the one rule both the request
// check (plugins/auth.ts) and the field check (builder.ts, on every root
// field) apply. The field check is what makes the rule hold whatever executes:
// a write resolver refuses a caller that may not write, even if a different
// operation than the one authorized reaches execution.
import type { Principal, Role } from './keys.js';

export type OperationKind = 'query' | 'mutation' | 'subscription';

const NEEDS: Record<OperationKind, Role> = { query: 'reader', mutation: 'writer', subscription: 'subscriber' };

export const roleFor = (kind: OperationKind): Role => NEEDS[kind];

export function mayRun(principal: Principal | undefined, kind: OperationKind): boolean {
  return principal !== undefined && (principal.role === 'admin' || principal.role === NEEDS[kind]);
}

/** The caller when no key store is configured at all (tests, embedded tools): everything allowed. */
export const UNGUARDED: Principal = { id: 'open', role: 'admin', name: 'no key store' };

/** USER-scope policy flags (who is flagged for fraud, and why) are personal data. */
export const canSeeUserFlags = (principal: Principal | undefined): boolean => principal?.role === 'admin';
