// An example BFF on the typed documents `npm run codegen` makes (examples/bff/gql/): it records a purchase,
// reads a decision that includes it (the mutation's consistency token into decisionContext(after:)), and
// follows the SKU's stock live from that decision's cursor with the resumable client.
//   GATEWAY_URL=http://localhost:4000/graphql [GATEWAY_KEY=…] [TRUSTED_DOCUMENTS_MANIFEST=trusted-documents.json] \
//     node --import tsx examples/bff/index.ts u-bob sku-espresso
// With a manifest it sends each operation's hash instead of its text (for TRUSTED_DOCUMENTS=only).
import fs from 'node:fs';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { getOperationAST, print } from 'graphql';
import WebSocket from 'ws';
import { createLiveClient } from 'decision-context-gateway/client';
import {
  DecisionDocument, RecordPurchaseDocument, StockChangesDocument,
  type DecisionQuery, type RecordPurchaseMutation, type StockChangesSubscription,
} from './gql/graphql.js';

export interface BffOptions {
  url: string;
  key?: string;
  /** A trusted-documents manifest: operations are sent by hash (looked up by operation name). */
  manifest?: string;
  userId: string;
  sku: string;
  /** How long to wait for the live change (ms). */
  timeoutMs?: number;
}

export interface BffReport {
  purchase: RecordPurchaseMutation['recordEvents'];
  consistencyToken: string | null;
  decision: DecisionQuery['decisionContext'];
  change: StockChangesSubscription['inventoryChanged'];
}

type Change = StockChangesSubscription['inventoryChanged'];

export async function runBff(opts: BffOptions): Promise<BffReport> {
  const hashes = opts.manifest ? hashesOf(opts.manifest) : {};
  const auth: Record<string, string> = opts.key ? { authorization: `Bearer ${opts.key}` } : {};

  async function call<R, V>(doc: TypedDocumentNode<R, V>, variables: V): Promise<{ data: R; token: string | null }> {
    const name = getOperationAST(doc)!.name!.value;
    const hash = hashes[name];
    const body = hash
      ? { extensions: { persistedQuery: { version: 1, sha256Hash: hash } }, variables }
      : { query: print(doc), variables };
    const res = await fetch(opts.url, {
      method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body),
    });
    const json = (await res.json()) as { data?: R; errors?: { message: string; extensions?: { code?: string } }[]; extensions?: { consistencyToken?: string } };
    if (json.errors?.length || !json.data) {
      throw new Error(`${name}: ${json.errors?.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ') ?? `HTTP ${res.status}`}`);
    }
    // With read replicas on, every mutation answer carries one (body and header); without, the primary always has the write.
    return { data: json.data, token: json.extensions?.consistencyToken ?? res.headers.get('x-consistency-token') };
  }

  // 1. The purchase.
  const bought = await call(RecordPurchaseDocument, { userId: opts.userId, sku: opts.sku, quantity: 1 });
  // 2. A decision that includes it, wherever it is read (primary or a replica that has replayed the write).
  const decided = await call(DecisionDocument, { userId: opts.userId, candidates: [opts.sku], after: bought.token });
  const decision = decided.data.decisionContext;

  // 3. The SKU's stock from that snapshot on: every later change exactly once, across reconnects.
  const live = createLiveClient({ url: opts.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: auth });
  try {
    const change = await new Promise<Change>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no stock change arrived')), opts.timeoutMs ?? 10_000);
      live.subscribe<Change>(
        { query: print(StockChangesDocument), sha256Hash: hashes.StockChanges, variables: { skus: [opts.sku] }, after: decision.snapshot.cursor },
        { next: (c) => { clearTimeout(timer); resolve(c); }, error: (err) => { clearTimeout(timer); reject(err); } },
      );
      // A second purchase after the snapshot: the subscription delivers it.
      void call(RecordPurchaseDocument, { userId: opts.userId, sku: opts.sku, quantity: 1 }).catch(reject);
    });
    return { purchase: bought.data.recordEvents, consistencyToken: bought.token, decision, change };
  } finally {
    await live.dispose();
  }
}

function hashesOf(file: string): Record<string, string> {
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { operations: { id: string; name: string }[] };
  return Object.fromEntries(manifest.operations.map((o) => [o.name, o.id]));
}

if (process.argv[1]?.endsWith('examples/bff/index.ts')) {
  const [userId = 'u-bob', sku = 'sku-espresso'] = process.argv.slice(2);
  const report = await runBff({
    url: process.env.GATEWAY_URL || 'http://localhost:4000/graphql', key: process.env.GATEWAY_KEY || undefined,
    manifest: process.env.TRUSTED_DOCUMENTS_MANIFEST || undefined, userId, sku,
  });
  console.log(JSON.stringify(report, null, 2));
}
