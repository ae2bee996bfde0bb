// Tags each error an operation raised — in its result, or thrown out of execution
// (a failed snapshot transaction) — with the request's id (logger.ts), so the
// masked-error log line names the request. Registered after the snapshot plugin:
// this wraps its execute function.
import type { Plugin } from 'graphql-yoga';
import { requestIdOf, tagRequestId } from '../logger.js';

const tag = (e: unknown, id: string) => {
  const original = (e as { originalError?: unknown }).originalError ?? e;
  if (typeof original === 'object' && original !== null) tagRequestId(original, id);
};

export function useErrorRequestIds(): Plugin<{ req?: unknown }> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const id = requestIdOf(args.contextValue.req);
      if (!id) return;
      setExecuteFn(async (execArgs) => {
        try {
          const result = await executeFn(execArgs);
          if (result && typeof result === 'object' && 'errors' in result) for (const e of result.errors ?? []) tag(e, id);
          return result;
        } catch (err) {
          tag(err, id);
          throw err;
        }
      });
    },
  };
}
