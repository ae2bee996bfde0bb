/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query Decision($userId: ID!, $sessionId: ID, $candidates: [ID!]!, $region: String, $after: String) {\n  decisionContext(\n    userId: $userId\n    sessionId: $sessionId\n    candidates: $candidates\n    region: $region\n    after: $after\n  ) {\n    snapshot {\n      id\n      readAt\n      cursor\n      source\n    }\n    session {\n      intent\n    }\n    candidates {\n      ...CandidateSignals\n    }\n  }\n}\n\nfragment CandidateSignals on CandidateContext {\n  sku\n  eligible\n  reasons\n  inventory {\n    available\n  }\n  velocity {\n    salesLast5m\n  }\n  price {\n    amountMinor\n    currency\n  }\n}": typeof types.DecisionDocument,
    "mutation RecordPurchase($userId: ID!, $sessionId: ID, $sku: ID!, $quantity: Int!) {\n  recordEvents(\n    events: [{kind: PURCHASE, userId: $userId, sessionId: $sessionId, sku: $sku, quantity: $quantity}]\n  ) {\n    accepted\n    stock {\n      sku\n      available\n      previous\n    }\n  }\n}": typeof types.RecordPurchaseDocument,
    "subscription StockChanges($skus: [ID!], $after: String) {\n  inventoryChanged(skus: $skus, after: $after) {\n    cursor\n    sku\n    available\n    previous\n    cause\n    committedAt\n  }\n}": typeof types.StockChangesDocument,
};
const documents: Documents = {
    "query Decision($userId: ID!, $sessionId: ID, $candidates: [ID!]!, $region: String, $after: String) {\n  decisionContext(\n    userId: $userId\n    sessionId: $sessionId\n    candidates: $candidates\n    region: $region\n    after: $after\n  ) {\n    snapshot {\n      id\n      readAt\n      cursor\n      source\n    }\n    session {\n      intent\n    }\n    candidates {\n      ...CandidateSignals\n    }\n  }\n}\n\nfragment CandidateSignals on CandidateContext {\n  sku\n  eligible\n  reasons\n  inventory {\n    available\n  }\n  velocity {\n    salesLast5m\n  }\n  price {\n    amountMinor\n    currency\n  }\n}": types.DecisionDocument,
    "mutation RecordPurchase($userId: ID!, $sessionId: ID, $sku: ID!, $quantity: Int!) {\n  recordEvents(\n    events: [{kind: PURCHASE, userId: $userId, sessionId: $sessionId, sku: $sku, quantity: $quantity}]\n  ) {\n    accepted\n    stock {\n      sku\n      available\n      previous\n    }\n  }\n}": types.RecordPurchaseDocument,
    "subscription StockChanges($skus: [ID!], $after: String) {\n  inventoryChanged(skus: $skus, after: $after) {\n    cursor\n    sku\n    available\n    previous\n    cause\n    committedAt\n  }\n}": types.StockChangesDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Decision($userId: ID!, $sessionId: ID, $candidates: [ID!]!, $region: String, $after: String) {\n  decisionContext(\n    userId: $userId\n    sessionId: $sessionId\n    candidates: $candidates\n    region: $region\n    after: $after\n  ) {\n    snapshot {\n      id\n      readAt\n      cursor\n      source\n    }\n    session {\n      intent\n    }\n    candidates {\n      ...CandidateSignals\n    }\n  }\n}\n\nfragment CandidateSignals on CandidateContext {\n  sku\n  eligible\n  reasons\n  inventory {\n    available\n  }\n  velocity {\n    salesLast5m\n  }\n  price {\n    amountMinor\n    currency\n  }\n}"): (typeof documents)["query Decision($userId: ID!, $sessionId: ID, $candidates: [ID!]!, $region: String, $after: String) {\n  decisionContext(\n    userId: $userId\n    sessionId: $sessionId\n    candidates: $candidates\n    region: $region\n    after: $after\n  ) {\n    snapshot {\n      id\n      readAt\n      cursor\n      source\n    }\n    session {\n      intent\n    }\n    candidates {\n      ...CandidateSignals\n    }\n  }\n}\n\nfragment CandidateSignals on CandidateContext {\n  sku\n  eligible\n  reasons\n  inventory {\n    available\n  }\n  velocity {\n    salesLast5m\n  }\n  price {\n    amountMinor\n    currency\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RecordPurchase($userId: ID!, $sessionId: ID, $sku: ID!, $quantity: Int!) {\n  recordEvents(\n    events: [{kind: PURCHASE, userId: $userId, sessionId: $sessionId, sku: $sku, quantity: $quantity}]\n  ) {\n    accepted\n    stock {\n      sku\n      available\n      previous\n    }\n  }\n}"): (typeof documents)["mutation RecordPurchase($userId: ID!, $sessionId: ID, $sku: ID!, $quantity: Int!) {\n  recordEvents(\n    events: [{kind: PURCHASE, userId: $userId, sessionId: $sessionId, sku: $sku, quantity: $quantity}]\n  ) {\n    accepted\n    stock {\n      sku\n      available\n      previous\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription StockChanges($skus: [ID!], $after: String) {\n  inventoryChanged(skus: $skus, after: $after) {\n    cursor\n    sku\n    available\n    previous\n    cause\n    committedAt\n  }\n}"): (typeof documents)["subscription StockChanges($skus: [ID!], $after: String) {\n  inventoryChanged(skus: $skus, after: $after) {\n    cursor\n    sku\n    available\n    previous\n    cause\n    committedAt\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;