// Timestamps travel as ISO-8601 UTC strings from Postgres to the client: the
// pool runs with TimeZone=UTC and parses timestamptz into "…T…Z" text, which
// skips a Date allocation and a re-format per value on the hot path.

/** An instant as ISO-8601 in UTC with milliseconds, e.g. "2026-11-25T16:46:47.918Z". */
export type Timestamp = string;

const PG_UTC = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\+00(?::00)?$/;

/** Postgres text ("2026-11-25 16:46:47.918123+00", or the json form with "T" and "+00:00") → ISO UTC. */
export function toIsoUtc(value: string): Timestamp {
  const m = PG_UTC.exec(value);
  if (!m) {
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) throw new Error(`not a timestamp: ${value}`);
    return d.toISOString();
  }
  return `${m[1]}T${m[2]}.${((m[3] ?? '') + '000').slice(0, 3)}Z`;
}

/** postgres.js custom type for timestamptz (oid 1184). */
export const timestamptz = {
  to: 1184,
  from: [1184],
  serialize: (x: Date | string) => (x instanceof Date ? x.toISOString() : x),
  parse: toIsoUtc,
};
