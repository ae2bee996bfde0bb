import fs from 'node:fs';
import { expect, it } from 'vitest';
import { printedSchema } from '../src/scripts/print-schema.js';

it('schema.graphql equals the served schema (npm run schema regenerates it)', () => {
  const committed = fs.readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
  expect(printedSchema()).toBe(committed);
});
