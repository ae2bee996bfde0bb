// Domain errors, each mapped to one `extensions.code`; everything else is
// masked for clients (see maskError) and logged.
import { GraphQLError } from 'graphql';
import type { z } from 'zod';

/**
 * Every `extensions.code` a client can receive, defined once: the HTTP status
 * it comes with (with `accept: application/json`; a code raised for one field
 * of an answer that has data always rides in a 200) and what it means. The
 * README's error table is printed from this (`npm run schema`; a test compares).
 */
export const ERRORS = {
  BAD_USER_INPUT: { status: 200, meaning: 'An argument or variable is not valid (`extensions.field` names it), including values Postgres itself refuses; nothing was written.' },
  GRAPHQL_PARSE_FAILED: { status: 200, meaning: 'The document is not valid GraphQL, or passes a size limit (tokens, depth, aliases).' },
  GRAPHQL_VALIDATION_FAILED: { status: 200, meaning: 'The document asks for fields or arguments the schema does not have.' },
  BAD_REQUEST: { status: 400, meaning: 'The HTTP request cannot be read (bad JSON, a bad batch entry, too many batched operations); from yoga, which answers a GET without a query 200 with `accept: application/json`.' },
  OPERATION_RESOLUTION_FAILURE: { status: 400, meaning: '`operationName` names no operation of the document, or is missing where it holds several; from yoga.' },
  UNAUTHENTICATED: { status: 401, meaning: 'No API key, or an unknown or revoked one (`WWW-Authenticate: Bearer`; graphql-ws closes 4401).' },
  FORBIDDEN: { status: 403, meaning: 'The key\'s roles may not run this operation or read this data.' },
  NOT_FOUND: { status: 200, meaning: 'A write names a SKU that does not exist (`extensions.sku` or `skus`), or cites a decision the decision log does not hold (`extensions.decisionIds`); nothing was written. `decisionOutcomes` of a decision not in the log.' },
  INSUFFICIENT_STOCK: { status: 200, meaning: 'A batch would take a SKU\'s sellable stock below zero (`extensions.skus`); the whole batch was refused.' },
  LIMIT_EXCEEDED: { status: 200, meaning: 'A work or connection bound, named in the message (429 with `Retry-After` for the per-key candidates in flight).' },
  RATE_LIMITED: { status: 429, meaning: 'The API key ran more operations than its rate limit (`RATE_LIMITS` or its own); retry after `Retry-After` (`extensions.retryAfterSeconds`).' },
  OVERLOADED: { status: 503, meaning: 'Load shed: too many requests in flight or a database pool\'s queue is full (the write pool\'s, for a mutation); retry after `Retry-After`.' },
  TIMEOUT: { status: 200, meaning: 'The database work took longer than `PG_STATEMENT_TIMEOUT_MS` and was cancelled; nothing was written; split the batch (no `Retry-After`: repeating it would time out again).' },
  UNAVAILABLE: { status: 503, meaning: 'The database is unreachable, or API keys are not loaded yet; retry shortly (503 when the whole request is refused).' },
  CURSOR_EXPIRED: { status: 200, meaning: 'A subscription\'s cursor is older than the retained change log (`extensions` carries the last valid cursor); resync from a decision\'s `snapshot.cursor`.' },
  SLOW_CONSUMER: { status: 200, meaning: 'A subscriber fell further behind than `LIVE_BUFFER_LIMIT`; resubscribe with `after:` its last cursor.' },
  TRUSTED_DOCUMENT_REQUIRED: { status: 403, meaning: 'Under `TRUSTED_DOCUMENTS=only` the request sent query text (or no persisted hash); send `extensions.persistedQuery.sha256Hash` of a manifest document.' },
  PERSISTED_QUERY_NOT_FOUND: { status: 400, meaning: '`extensions.persistedQuery.sha256Hash` names no document of the trusted-documents manifest; nothing was executed.' },
  INTERNAL_SERVER_ERROR: { status: 200, meaning: 'Anything unexpected: logged, and masked for the client. Bad input never gets it.' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** `extensions.http` for a code that refuses a whole request (yoga answers with it; streams and graphql-ws ignore it). */
export const httpStatus = (code: ErrorCode, headers: Record<string, string> = {}) => ({ status: ERRORS[code].status, headers });

/** The README's error table, from ERRORS. */
export function errorTable(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.meaning} |`);
  return ['| code | HTTP | meaning |', '|---|---|---|', ...rows].join('\n');
}

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
  'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'SNAPSHOT_DEADLINE', '57P01', '57P02', '57P03', '08006', '08001', '08003',
]);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
}

/**
 * 57014 (query_canceled): statement_timeout cancelled the statement (the
 * gateway never cancels its own; an operator's pg_cancel_backend is the only
 * other source). The database is up and the transaction rolled back: not an
 * outage, and the same request would most likely time out again.
 */
export function isStatementTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '57014';
}

export const TIMEOUT_MESSAGE = 'The database work for this request took longer than the statement timeout '
  + '(PG_STATEMENT_TIMEOUT_MS) and was cancelled; nothing was written. The same request will likely time out '
  + 'again: split the batch into smaller ones.';

// Postgres data exceptions (SQLSTATE class 22) that only a caller's value can
// cause. Edge validation should stop these first; the mapping is the safety net.
const REJECTED_VALUES: Record<string, string> = {
  '22001': 'A text value in the input is too long.',
  '22003': 'A number in the input is out of range.',
  '22007': 'A date/time value in the input is not valid.',
  '22008': 'A date/time value in the input is out of range.',
  '22009': 'A time zone offset in the input is out of range.',
  '22021': 'A text value in the input cannot be stored (a NUL character or invalid UTF-8).',
  '22P02': 'A value in the input is not valid for its type.',
};

function rejectedValue(err: unknown): string | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  return e?.name === 'PostgresError' && typeof e.code === 'string' ? REJECTED_VALUES[e.code] : undefined;
}

/**
 * yoga's maskError hook: domain errors pass through, database outages become
 * UNAVAILABLE, a statement cancelled by statement_timeout TIMEOUT, values Postgres refused become BAD_USER_INPUT (logged with
 * `warn`: a hole in edge validation, not a fault), anything else is logged
 * and replaced by a generic message.
 */
export function maskError(log: (err: unknown) => void, warn: (err: unknown) => void = log) {
  return (error: unknown, message: string): Error => {
    const located = error instanceof GraphQLError ? error : undefined;
    const original = located ? located.originalError : error;
    if (located && (!original || original instanceof GraphQLError)) return located;
    const at = { nodes: located?.nodes, path: located?.path };
    if (isUnavailable(original)) {
      return new GraphQLError('The database is unavailable; retry shortly.', { ...at, extensions: { code: 'UNAVAILABLE' satisfies ErrorCode } });
    }
    // No http status (so 200, like any refused write), no Retry-After: 503/504/408 are what proxies
    // and retry middleware repeat blindly, and repeating a batch that timed out only times out again.
    if (isStatementTimeout(original)) return new GraphQLError(TIMEOUT_MESSAGE, { ...at, extensions: { code: 'TIMEOUT' satisfies ErrorCode } });
    const rejected = rejectedValue(original);
    if (rejected) {
      warn(original);
      const extensions = { code: 'BAD_USER_INPUT' satisfies ErrorCode, sqlState: (original as { code: string }).code };
      if (!located) return new GraphQLError(rejected, { extensions });
      // Relabel in place: yoga logs at error level any error this hook replaces.
      located.message = rejected;
      (located as { extensions: Record<string, unknown> }).extensions = extensions;
      return located;
    }
    log(original);
    return new GraphQLError(message, { ...at, extensions: { code: 'INTERNAL_SERVER_ERROR' satisfies ErrorCode } });
  };
}

/**
 * An error in an execution result without a path was raised before any
 * resolver ran: graphql-js (or graphql-jit) coercing the variables. Those
 * carry no code: give them BAD_USER_INPUT. graphql-jit words a custom scalar's
 * refusal as "Expected type X." only: add the scalar's own reason (DateTime's range, for one).
 */
export function withInputErrorCodes<R extends { errors?: readonly GraphQLError[] }>(result: R): R {
  const uncoded = (e: GraphQLError) => e.path === undefined && e.extensions?.code === undefined;
  const terse = (e: GraphQLError) => e.path === undefined && !!e.originalError?.message && !e.message.includes(e.originalError.message);
  if (!result.errors?.some((e) => uncoded(e) || terse(e))) return result;
  return {
    ...result,
    errors: result.errors.map((e) => {
      if (!uncoded(e) && !terse(e)) return e;
      const message = terse(e) ? `${e.message} ${e.originalError!.message}` : e.message;
      return new GraphQLError(message, {
        nodes: e.nodes, source: e.source, positions: e.positions,
        extensions: { ...e.extensions, code: 'BAD_USER_INPUT' satisfies ErrorCode },
      });
    }),
  };
}

/** Labels in place an error raised by a phase before execution that gave it no code (graphql-armor's limits, for one). */
export function labelPhase(error: unknown, code: ErrorCode): void {
  if (error instanceof GraphQLError && error.extensions?.code === undefined) {
    (error as { extensions: Record<string, unknown> }).extensions = { ...error.extensions, code };
  }
}

const SCALAR_REFUSAL = /^(Int|Float|String|Boolean|ID) cannot represent /;

/**
 * For an onValidate hook: a literal a built-in scalar cannot hold (an Int
 * beyond 32 bits, NaN for a Float) is bad input, like the same value in a
 * variable, not a bad document. Relabels in place, as yoga labels validation
 * errors (GRAPHQL_VALIDATION_FAILED, before or after this runs).
 */
export function recodeLiteralInputErrors(errors: readonly GraphQLError[]): void {
  for (const e of errors) {
    const code = e.extensions?.code;
    if ((code === undefined || code === 'GRAPHQL_VALIDATION_FAILED') && SCALAR_REFUSAL.test(e.message)) {
      (e as { extensions: Record<string, unknown> }).extensions = { ...e.extensions, code: 'BAD_USER_INPUT' satisfies ErrorCode };
    }
  }
}
