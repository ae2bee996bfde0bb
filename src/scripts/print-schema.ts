// `npm run schema`: writes the served schema to schema.graphql (a test keeps them equal).
import fs from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../schema/index.js';

export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv[1]?.endsWith('print-schema.ts')) {
  fs.writeFileSync(new URL('../../schema.graphql', import.meta.url), printedSchema());
  console.log('wrote schema.graphql');
}
