// GraphiQL from the installed @graphql-yoga/render-graphiql (its scripts, styles and editor workers are
// inlined in the page: nothing is fetched from a CDN, so it works offline and under a strict CSP), opened
// on ready examples against the demo data. With authentication on, every tab carries the header to fill in.
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';
import type { KeyStore } from '../auth/keys.js';

const DECISION = `# A decision against the demo data (npm start loads it),
# from one consistent snapshot. Run it: ▶ or Ctrl-Enter.
# snapshot.cursor is where the "Resume" tab continues from.
query Decision {
  decisionContext(
    userId: "u-alice"
    sessionId: "s-alice-1"
    candidates: ["sku-espresso", "sku-kettle", "sku-drone"]
    region: "berlin"
  ) {
    snapshot { id readAt cursor }
    session { intent }
    candidates {
      sku
      eligible
      reasons
      inventory { available }
      velocity { salesLast5m }
      price { amountMinor currency }
    }
  }
}
`;

const PURCHASE = `# A purchase: stock and sales move together, in one transaction.
# With read replicas on, the answer's extensions.consistencyToken goes into decisionContext(after:).
mutation Purchase {
  recordEvents(events: [{ kind: PURCHASE, userId: "u-bob", sessionId: "s-bob-1", sku: "sku-espresso", quantity: 1 }]) {
    accepted
    stock { sku available previous }
  }
}
`;

const INVENTORY = `# Every committed stock change of these SKUs, live (run the "Purchase" tab meanwhile).
subscription Stock {
  inventoryChanged(skus: ["sku-espresso", "sku-kettle"]) {
    cursor sku available previous reserved sellable cause committedAt
  }
}
`;

const FLIPS = `# Every policy flip (holds, risk gates; USER-scope fraud flags reach admin keys only).
subscription Flips {
  policyFlipped {
    cursor active committedAt
    flag { scope target kind reason }
  }
}
`;

const RESUME = `# Resume: the changes committed after a cursor (a decision's snapshot.cursor, or the last
# event you saw), replayed with no gap or duplicate, then live.
subscription Resume($after: String) {
  inventoryChanged(after: $after) {
    cursor sku available previous cause committedAt
  }
}
`;

export const GRAPHIQL_EXAMPLES = { DECISION, PURCHASE, INVENTORY, FLIPS, RESUME };

/** What a tab's headers editor shows when keys are on: the header, with the key to paste. */
export const AUTH_HEADERS = JSON.stringify({ authorization: 'Bearer <paste a key: npm run keys -- create reader,subscriber,writer "graphiql">' }, null, 2);

/** GraphiQL's options for this request: the example tabs, with the auth header when keys are on. */
export function graphiqlOptions(keys?: KeyStore): () => GraphiQLOptions {
  return () => {
    const headers = keys?.enabled ? AUTH_HEADERS : undefined;
    const tab = (query: string, variables?: unknown) => ({
      query, headers: headers ?? null, variables: variables ? JSON.stringify(variables, null, 2) : null,
    });
    return {
      title: 'Decision-context gateway',
      defaultQuery: DECISION,
      defaultTabs: [tab(DECISION), tab(PURCHASE), tab(INVENTORY), tab(FLIPS), tab(RESUME, { after: '0' })],
      ...(headers ? { headers, defaultHeaders: headers, defaultEditorToolsVisibility: 'headers' as const } : {}),
      // Subscriptions over SSE on the same path: the headers editor's key reaches them too.
      subscriptionsProtocol: 'SSE',
    };
  };
}

/** renderGraphiQL inlines ~9 MB of scripts; render each distinct set of options once. */
export function cachedRenderer(): (opts: GraphiQLOptions) => string {
  const pages = new Map<string, string>();
  return (opts) => {
    const key = JSON.stringify(opts);
    let page = pages.get(key);
    if (page === undefined) pages.set(key, (page = renderGraphiQL(opts)));
    return page;
  };
}
