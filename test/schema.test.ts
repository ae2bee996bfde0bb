import fs from 'node:fs';
import { expect, it } from 'vitest';
import { printedSchema, withErrorTable } from '../src/scripts/print-schema.js';

it('schema.graphql equals the served schema (npm run schema regenerates it)', () => {
  const committed = fs.readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
  expect(printedSchema()).toBe(committed);
});

it('README.md\'s error table equals src/errors.ts\' ERRORS (npm run schema regenerates it)', () => {
  const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  expect(withErrorTable(readme)).toBe(readme);
});
