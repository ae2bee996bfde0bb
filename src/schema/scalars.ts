import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';

// ISO-8601 timestamps. Rows carry Date (timestamptz columns) or the string
// Postgres renders inside json (e.g. "2026-11-25T16:37:25.123456+00:00").
function toIso(value: unknown): string {
  const d = value instanceof Date ? value : new Date(String(value));
  if (Number.isNaN(d.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
  return d.toISOString();
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
