// Domain errors, each mapped to one `extensions.code`; everything else is
// masked for clients (see maskError) and logged.
import { GraphQLError } from 'graphql';
import type { z } from 'zod';

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'INSUFFICIENT_STOCK'
  | 'UNAVAILABLE'
  | 'OVERLOADED'
  | 'CURSOR_EXPIRED'
  | 'SLOW_CONSUMER'
  | 'INTERNAL_SERVER_ERROR';

export class DomainError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extra } });
  }
}

export const badInput = (message: string, path?: string) =>
  new DomainError('BAD_USER_INPUT', message, path ? { field: path } : {});

/** Validate input at the edge: the first problem becomes a BAD_USER_INPUT error naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = [root, ...issue.path.map(String)].filter(Boolean).join('.');
  throw badInput(`${field}: ${issue.message}`, field);
}

// Driver errors that mean "the database is not reachable right now".
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED',
  'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P02', '57P03', '08006', '08001', '08003', '57014',
]);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
}

/**
 * yoga's maskError hook: domain errors pass through, database outages become
 * UNAVAILABLE, anything else is logged and replaced by a generic message.
 */
export function maskError(log: (err: unknown) => void) {
  return (error: unknown, message: string): Error => {
    const located = error instanceof GraphQLError ? error : undefined;
    const original = located ? located.originalError : error;
    if (located && !original && located.extensions?.code === undefined) return withCode(located);
    if (located && (!original || original instanceof GraphQLError)) return located;
    const at = { nodes: located?.nodes, path: located?.path };
    if (isUnavailable(original)) {
      return new GraphQLError('The database is unavailable; retry shortly.', { ...at, extensions: { code: 'UNAVAILABLE' } });
    }
    log(original);
    return new GraphQLError(message, { ...at, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };
}

// Request errors raised before execution (query limits reported as syntax
// errors, for one) arrive without a code; name the phase that refused them.
function withCode(error: GraphQLError): GraphQLError {
  const code = /^Syntax Error/.test(error.message) ? 'GRAPHQL_PARSE_FAILED'
    : /^Variable "\$/.test(error.message) ? 'BAD_USER_INPUT' : 'GRAPHQL_VALIDATION_FAILED';
  return new GraphQLError(error.message, {
    nodes: error.nodes, source: error.source, positions: error.positions, path: error.path,
    extensions: { ...error.extensions, code },
  });
}

/**
 * graphql-js reports bad variable values (wrong type, 32-bit overflow, unknown
 * input fields) as request errors without a code; give them BAD_USER_INPUT.
 */
export function withInputErrorCodes<R extends { errors?: readonly GraphQLError[] }>(result: R): R {
  const uncoded = (e: GraphQLError) => e.extensions?.code === undefined && !e.path && /^Variable "\$/.test(e.message);
  if (!result.errors?.some(uncoded)) return result;
  return { ...result, errors: result.errors.map((e) => (uncoded(e) ? withCode(e) : e)) };
}
