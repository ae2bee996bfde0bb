import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';
import { toIsoUtc } from '../db/timestamps.js';

// ISO-8601 timestamps. Rows carry ISO UTC strings (see db/timestamps.ts), or
// the form Postgres renders inside json (e.g. "2026-11-25T16:37:25.123456+00:00").
const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function toIso(value: unknown): string {
  if (typeof value === 'string') {
    if (CANONICAL.test(value)) return value;
    try {
      return toIsoUtc(value);
    } catch {
      throw new GraphQLError('DateTime cannot represent an invalid date');
    }
  }
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  throw new GraphQLError('DateTime cannot represent an invalid date');
}

function parse(value: unknown): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    throw new GraphQLError('DateTime must be an ISO-8601 string with a time zone, e.g. 2026-11-25T16:00:00Z', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw new GraphQLError(`DateTime "${value}" is not a valid date`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return d;
}

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 string in UTC (e.g. 2026-11-25T16:00:00.000Z).',
  serialize: toIso,
  parseValue: parse,
  parseLiteral: (ast) => parse(ast.kind === Kind.STRING ? ast.value : undefined),
});
