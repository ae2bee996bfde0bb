// Runs every query operation inside one REPEATABLE READ READ ONLY transaction
// and binds the request's DataLoaders to it: every signal in the answer comes
// from the same snapshot. Mutations are left alone (each opens its own
// read-write transaction); subscriptions never reach onExecute.
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Sql } from '../db/client.js';
import type { Context } from '../context.js';
import { createLoaders, type OutsideReaders, type Reader } from '../reads/loaders.js';
import { inSnapshot } from '../db/snapshot.js';

export interface SnapshotOptions {
  /**
   * TEST ONLY, never set it in production. Moves readers onto the pool, where
   * each of their statements reads its own snapshot: `true` all of them (no
   * transaction at all), a list just those (the rest share the transaction).
   * Exists to prove the consistency test fails when any single reader leaves
   * the snapshot. Unset, `false` or `[]`: the production path.
   */
  unsafeReadOutsideTransaction?: boolean | ReadonlyArray<Reader>;
}

export function useSnapshotTransaction(sql: Sql, opts: SnapshotOptions = {}): Plugin<Context> {
  // Resolved once here, so a request pays nothing for the test switch when it is unset.
  const unsafe = opts.unsafeReadOutsideTransaction;
  const allOutside = unsafe === true;
  const outside: OutsideReaders | undefined = Array.isArray(unsafe) && unsafe.length ? { sql, names: unsafe } : undefined;
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const op = getOperationAST(args.document, args.operationName);
      if (op?.operation !== 'query') return;
      const ctx = args.contextValue as Context;
      if (allOutside) {
        ctx.loaders = createLoaders(sql);
        return;
      }
      setExecuteFn((execArgs) =>
        inSnapshot(sql, async (tx) => {
          (execArgs.contextValue as Context).loaders = createLoaders(tx, outside);
          return executeFn(execArgs);
        }) as ReturnType<typeof executeFn>,
      );
    },
  };
}
