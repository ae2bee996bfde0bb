// `npm run codegen`: typed documents for the example BFF from its operations and the served schema.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['examples/bff/operations/*.graphql'],
  generates: {
    'examples/bff/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' }, strictScalars: true },
    },
  },
  emitLegacyCommonJSImports: false, // '.js' on relative imports (NodeNext)
  silent: true,
};

export default config;
