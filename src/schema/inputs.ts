// Shared input rules, validated at the edge before any SQL runs.
import { z } from 'zod';

export const MAX_CANDIDATES = 1000;
export const MAX_EVENTS = 10_000;
export const MAX_ITEMS = 10_000;
export const MAX_LIST_LIMIT = 100;
/** Prices (priceMinor, amountMinor), in minor units: 10 million in a 2-decimal currency. */
export const MAX_PRICE_MINOR = 1_000_000_000;
/** Stock levels (available, reserved), in units. */
export const MAX_STOCK = 1_000_000_000;
/** Units in one event. */
export const MAX_EVENT_QUANTITY = 100_000;
/** A region's delivery latency: 30 days. */
export const MAX_LATENCY_MINUTES = 43_200;

// Postgres text cannot hold NUL (it fails the statement, SQLSTATE 22021), and
// postgres.js encodes a lone UTF-16 surrogate as U+FFFD: a silently different
// value. Refuse both for every string that reaches SQL. (\p{Cs} with the u flag
// matches only unpaired surrogates: a pair is read as one code point.)
const storable = (s: z.ZodString) => s
  .refine((v) => !v.includes('\u0000'), 'must not contain NUL (U+0000)')
  .refine((v) => !/\p{Cs}/u.test(v), 'must not contain unpaired UTF-16 surrogates');

/** Free text that may be empty (search terms, filters, cursors). */
export const plain = (max: number) => storable(z.string().max(max, `must be at most ${max} characters`));
export const id = storable(z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'))
  .refine((s) => s.trim().length > 0, 'must not be blank');
export const text = (max: number) => storable(z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`))
  .refine((s) => s.trim().length > 0, 'must not be blank');
export const nonNegative = z.number().int().min(0, 'must not be negative');
/** A whole number in 0..max; the message states the bound. */
export const upTo = (max: number) => nonNegative.max(max, `must be at most ${max}`);
export const priceMinor = upTo(MAX_PRICE_MINOR);
export const stock = upTo(MAX_STOCK);
export const currency = z.string().regex(/^[A-Z]{3}$/, 'must be 3 capital letters (ISO 4217, e.g. EUR)');
export const limit = z.number().int().min(0, 'must not be negative').max(MAX_LIST_LIMIT, `must be at most ${MAX_LIST_LIMIT}`);
/** A decision id as DecisionContext.decisionId gives it: a UUID in canonical form (36 characters; no NUL or other text). */
export const decisionIdSchema = z.string().max(36, 'must be a decision id (a UUID, 36 characters)')
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a decision id (a UUID as DecisionContext.decisionId gives it)')
  .transform((s) => s.toLowerCase());
