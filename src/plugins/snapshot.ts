// Runs every query operation inside one REPEATABLE READ READ ONLY transaction
// and binds the request's DataLoaders to it: every signal in the answer comes
// from the same snapshot. Mutations are left alone (each opens its own
// read-write transaction); subscriptions never reach onExecute.
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Sql } from '../db/client.js';
import type { Context } from '../context.js';
import { createLoaders } from '../reads/loaders.js';
import { inSnapshot } from '../db/snapshot.js';

export interface SnapshotOptions {
  /**
   * TEST ONLY: bind loaders to the pool instead of the shared transaction, so
   * each statement reads its own snapshot. Exists to prove the consistency
   * test can fail; never set it in production.
   */
  unsafeReadOutsideTransaction?: boolean;
}

export function useSnapshotTransaction(sql: Sql, opts: SnapshotOptions = {}): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const op = getOperationAST(args.document, args.operationName);
      if (op?.operation !== 'query') return;
      const ctx = args.contextValue as Context;
      if (opts.unsafeReadOutsideTransaction) {
        ctx.loaders = createLoaders(sql);
        return;
      }
      setExecuteFn((execArgs) =>
        inSnapshot(sql, async (tx) => {
          (execArgs.contextValue as Context).loaders = createLoaders(tx);
          return executeFn(execArgs);
        }) as ReturnType<typeof executeFn>,
      );
    },
  };
}
