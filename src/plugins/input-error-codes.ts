// Every request error gets its code from the phase that raised it, on every
// transport (graphql-ws runs the same parse and validate): what parse throws
// (GRAPHQL_PARSE_FAILED), what a validation rule throws (GRAPHQL_VALIDATION_FAILED),
// a literal a scalar cannot hold (an Int past 32 bits) and variable coercion in
// execute (both BAD_USER_INPUT). yoga labels what validate reports.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DomainError, httpStatus, labelPhase, recodeLiteralInputErrors, withInputErrorCodes } from '../errors.js';

export function useInputErrorCodes(): Plugin {
  return {
    // yoga labels parse errors only for HTTP requests (its hook needs `request`); this covers graphql-ws.
    onParse: () => ({ result }) => labelPhase(result, 'GRAPHQL_PARSE_FAILED'),
    // A validation rule may throw rather than report (graphql-armor's limits do): label what it throws too.
    onValidate: ({ validateFn, setValidationFn }) => {
      setValidationFn((...args) => {
        try {
          return validateFn(...args);
        } catch (err) {
          labelPhase(err, 'GRAPHQL_VALIDATION_FAILED');
          throw err;
        }
      });
      return ({ result }) => recodeLiteralInputErrors(result.filter((e): e is GraphQLError => e instanceof GraphQLError));
    },
    onExecute: () => ({
      onExecuteDone({ result, setResult }) {
        if (result && typeof result === 'object' && 'errors' in result) setResult(withInputErrorCodes(result));
      },
    }),
  };
}

const badRequest = (message: string) => new DomainError('BAD_REQUEST', message, { http: httpStatus('BAD_REQUEST') });

/**
 * A request yoga cannot read (variables or extensions that are not JSON, a
 * batch entry that is not an object) surfaced as a plain SyntaxError or
 * TypeError, which the error mask turns into INTERNAL_SERVER_ERROR. Name it
 * for what it is: BAD_REQUEST (yoga's own code for malformed requests).
 */
export function useRequestParseErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (requestParser) {
        setRequestParser(async (request) => {
          try {
            return await requestParser(request);
          } catch (err) {
            // yoga's "POST body sent invalid JSON." carries the parser's error (its class and a slice of the body) as
            // extensions.originalError: answered with the code alone, like every other refusal.
            if (err instanceof GraphQLError && err.extensions?.originalError !== undefined) throw badRequest(err.message);
            if (err instanceof GraphQLError) throw err;
            throw badRequest(`The request could not be read: ${String((err as Error)?.message ?? err).slice(0, 200)}`);
          }
        });
      }
      return {
        onRequestParseDone({ requestParserResult }) {
          const entries = Array.isArray(requestParserResult) ? requestParserResult : [requestParserResult];
          if (entries.some((p) => p === null || typeof p !== 'object' || Array.isArray(p))) {
            throw badRequest('Every operation of a request must be an object: { query, variables, operationName }');
          }
        },
      };
    },
  };
}
