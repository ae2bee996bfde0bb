// Bad variable values never reach a resolver: graphql-js reports them as
// request errors without a code. Label them BAD_USER_INPUT for clients.
import type { Plugin } from 'graphql-yoga';
import { withInputErrorCodes } from '../errors.js';

export function useInputErrorCodes(): Plugin {
  return {
    onExecute: () => ({
      onExecuteDone({ result, setResult }) {
        if (result && typeof result === 'object' && 'errors' in result) setResult(withInputErrorCodes(result));
      },
    }),
  };
}
