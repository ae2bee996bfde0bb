// Bad values never reach a resolver: graphql-js reports a bad variable as a
// request error without a code, and a literal a scalar cannot hold (an Int past
// 32 bits) as a validation error. Both are bad input: label them BAD_USER_INPUT.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { recodeLiteralInputErrors, withInputErrorCodes } from '../errors.js';

export function useInputErrorCodes(): Plugin {
  return {
    onValidate: () => ({ result }) => recodeLiteralInputErrors(result.filter((e): e is GraphQLError => e instanceof GraphQLError)),
    onExecute: () => ({
      onExecuteDone({ result, setResult }) {
        if (result && typeof result === 'object' && 'errors' in result) setResult(withInputErrorCodes(result));
      },
    }),
  };
}
