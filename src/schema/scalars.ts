import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';
import { toIsoUtc } from '../db/timestamps.js';
import { badInput } from '../errors.js';

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

// What Postgres can store and render back as a 4-digit year (it refuses year 0,
// and an offset can push 9999-12-31 into year 10000).
const MIN_DATETIME = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_DATETIME = Date.parse('9999-12-31T23:59:59.999Z');

const daysIn = (year: number, month: number) => new Date(Date.UTC(2000 + (year % 400), month, 0)).getUTCDate();

function parse(value: unknown): Date {
  const m = typeof value === 'string'
    ? /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.exec(value) : null;
  if (!m) {
    throw badInput('DateTime must be an ISO-8601 string with a time zone, e.g. 2026-11-25T16:00:00Z');
  }
  const d = new Date(value as string);
  // JS rolls 2026-02-30 over to March 2; refuse a day the month does not have.
  if (Number.isNaN(d.getTime()) || Number(m[3]) > daysIn(Number(m[1]), Number(m[2]))) {
    throw badInput(`DateTime "${value}" is not a valid date`);
  }
  if (d.getTime() < MIN_DATETIME || d.getTime() > MAX_DATETIME) {
    throw badInput(`DateTime "${value}" is out of range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (UTC)`);
  }
  return d;
}

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 string in UTC (e.g. 2026-11-25T16:00:00.000Z), '
    + 'from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.',
  serialize: toIso,
  parseValue: parse,
  parseLiteral: (ast) => parse(ast.kind === Kind.STRING ? ast.value : undefined),
});
