// Shared input rules, validated at the edge before any SQL runs.
import { z } from 'zod';

export const MAX_CANDIDATES = 1000;
export const MAX_EVENTS = 10_000;
export const MAX_ITEMS = 10_000;
export const MAX_LIST_LIMIT = 100;

export const id = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters')
  .refine((s) => s.trim().length > 0, 'must not be blank');
export const text = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`)
  .refine((s) => s.trim().length > 0, 'must not be blank');
export const nonNegative = z.number().int().min(0, 'must not be negative');
export const currency = z.string().regex(/^[A-Z]{3}$/, 'must be 3 capital letters (ISO 4217, e.g. EUR)');
export const limit = z.number().int().min(0, 'must not be negative').max(MAX_LIST_LIMIT, `must be at most ${MAX_LIST_LIMIT}`);
