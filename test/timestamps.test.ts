import { expect, it } from 'vitest';
import { toIsoUtc } from '../src/db/timestamps.js';

it('turns Postgres timestamptz text (UTC session) into ISO-8601 UTC with milliseconds', () => {
  expect(toIsoUtc('2026-11-25 16:46:47.918123+00')).toBe('2026-11-25T16:46:47.918Z');
  expect(toIsoUtc('2026-11-25 16:46:47.9+00')).toBe('2026-11-25T16:46:47.900Z');
  expect(toIsoUtc('2026-11-25 16:46:47+00')).toBe('2026-11-25T16:46:47.000Z');
  expect(toIsoUtc('2026-11-25T16:46:47.918123+00:00')).toBe('2026-11-25T16:46:47.918Z');
  expect(toIsoUtc('2026-11-25 17:46:47.5+01')).toBe('2026-11-25T16:46:47.500Z');
  expect(() => toIsoUtc('infinity')).toThrow();
});
