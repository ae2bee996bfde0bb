// The one Pothos builder. Loaders live in the request context (see context.ts),
// bound to the request's snapshot transaction, so no dataloader plugin is needed.
import SchemaBuilder from '@pothos/core';
import type { Context } from './context.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
  };
}>({
  defaultFieldNullability: false,
});

builder.queryType({});
builder.mutationType({});

