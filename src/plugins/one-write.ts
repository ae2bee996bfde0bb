// A mutation operation holds one write. Each write is one transaction, and
// graphql-js runs a document's root mutation fields one after the other: with
// several, a later field's refusal (bad input, not found, not permitted) would
// answer `data: null` after earlier fields had committed. One field per
// operation keeps "refused means nothing was written" true; several writes go
// as several operations (one batched request may carry them), and the batch
// mutations (recordEvents, upsertItems) are atomic themselves.
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DomainError } from '../errors.js';
import { rootFields } from './root-fields.js';

export function useOneWritePerOperation(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const op = getOperationAST(args.document, args.operationName);
      if (op?.operation !== 'mutation') return;
      const writes = rootFields(args.document, op).filter((f) => !f.name.value.startsWith('__'));
      if (writes.length <= 1) return;
      setResultAndStopExecution({ errors: [new DomainError('BAD_USER_INPUT',
        `A mutation operation may hold one write; this one holds ${writes.length} (${writes.map((f) => f.alias?.value ?? f.name.value).join(', ')}). `
        + 'Each write is its own transaction: send them as separate operations (one batched request may carry several), '
        + 'or use the batch mutations (recordEvents, upsertItems), which are atomic.')] });
    },
  };
}
