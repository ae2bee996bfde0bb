// Trusted documents (persisted operations): TRUSTED_DOCUMENTS=off|allow|only with a manifest of
// sha256 → document (Apollo's persisted-query manifest format, made by `npm run documents`). A request
// names a document by `extensions.persistedQuery.sha256Hash` (with `query` absent or empty); the
// document was parsed and validated once, at load, so such a request skips both. HTTP, GET, batches
// and SSE go through yoga's persisted-operations plugin; graphql-ws asks resolve() (live/ws.ts).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import {
  GraphQLError, Kind, NoSchemaIntrospectionCustomRule, parse, print, specifiedRules, validate, visit,
  type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { OPEN, type Principal } from '../auth/keys.js';
import type { TrustedMode } from '../config.js';
import { DomainError, httpStatus } from '../errors.js';


/** One entry of Apollo's persisted-query manifest. */
export interface ManifestOperation { id: string; name: string; type: 'query' | 'mutation' | 'subscription'; body: string }
export interface Manifest { format: 'apollo-persisted-query-manifest'; version: 1; operations: ManifestOperation[] }

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface TrustedDocumentsOptions {
  mode: Exclude<TrustedMode, 'off'>;
  /** id (sha256 of the body) → the parsed, validated document. */
  documents: ReadonlyMap<string, DocumentNode>;
  /** TRUSTED_DOCUMENTS_ADMIN_TEXT: in `only`, an admin key may still send text. */
  adminText: boolean;
}

/**
 * The manifest of a set of .graphql sources (`npm run documents`): one document per named operation, holding
 * it and the fragments it uses (from any source), printed by graphql-js so whitespace and comments do not
 * change a hash; each validated against the schema. Sorted by name, so the file is stable under review.
 */
export function buildManifest(sources: { file: string; text: string }[], schema: GraphQLSchema): Manifest {
  const fragments = new Map<string, FragmentDefinitionNode>();
  const operations: { file: string; op: OperationDefinitionNode }[] = [];
  for (const { file, text } of sources) {
    for (const def of parse(text, { noLocation: true }).definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) {
        if (fragments.has(def.name.value)) throw new Error(`${file}: fragment ${def.name.value} is defined twice`);
        fragments.set(def.name.value, def);
      } else if (def.kind === Kind.OPERATION_DEFINITION) {
        if (!def.name) throw new Error(`${file}: every operation needs a name (it names the manifest entry)`);
        if (operations.some((o) => o.op.name!.value === def.name!.value)) throw new Error(`${file}: operation ${def.name.value} is defined twice`);
        operations.push({ file, op: def });
      } else {
        throw new Error(`${file}: only operations and fragments belong in a document folder`);
      }
    }
  }
  const used = (node: OperationDefinitionNode | FragmentDefinitionNode, seen: Set<string>) => {
    visit(node, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        if (seen.has(name)) return;
        const fragment = fragments.get(name);
        if (!fragment) throw new Error(`unknown fragment ${name}`);
        seen.add(name);
        used(fragment, seen);
      },
    });
    return seen;
  };
  const entries = operations.map(({ file, op }) => {
    const names = [...used(op, new Set())].sort();
    const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [op, ...names.map((n) => fragments.get(n)!)] };
    const errors = validate(schema, document);
    if (errors.length) throw new Error(`${file}: ${op.name!.value}: ${errors[0]!.message}`);
    const body = print(document);
    return { id: sha256(body), name: op.name!.value, type: op.operation, body };
  });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations: entries };
}

/** Why a manifest cannot be served, or the parsed documents. Every entry must hold: a bad one fails the start. */
export function readManifest(text: string, schema: GraphQLSchema, { introspection = true } = {}): Map<string, DocumentNode> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (err) {
    throw new Error(`is not JSON (${(err as Error).message})`);
  }
  if (manifest?.format !== 'apollo-persisted-query-manifest' || manifest.version !== 1 || !Array.isArray(manifest.operations)) {
    throw new Error('is not an apollo-persisted-query-manifest of version 1 (make it with npm run documents)');
  }
  const rules = introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule];
  const documents = new Map<string, DocumentNode>();
  for (const op of manifest.operations) {
    const at = `operation ${JSON.stringify(op?.name)} (${String(op?.id).slice(0, 12)}…)`;
    if (typeof op?.body !== 'string' || typeof op.id !== 'string') throw new Error(`${at}: needs a string id and body`);
    // The id is the body's hash: an entry cannot name one document and serve another.
    if (op.id !== sha256(op.body)) throw new Error(`${at}: id is not the sha256 of its body`);
    const document = parse(op.body, { noLocation: true });
    // One operation per document: a hash then names exactly one operation, whatever operationName says.
    const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    if (ops.length !== 1) throw new Error(`${at}: holds ${ops.length} operations; a trusted document holds exactly one`);
    if ((ops[0]!.name?.value ?? '') !== op.name || ops[0]!.operation !== op.type) throw new Error(`${at}: name or type does not match its body`);
    const errors = validate(schema, document, rules);
    if (errors.length) throw new Error(`${at}: ${errors[0]!.message}`);
    documents.set(op.id, document);
  }
  return documents;
}

/** Loads TRUSTED_DOCUMENTS_MANIFEST; throws a message naming the file and the entry at fault. */
export function loadManifest(file: string, schema: GraphQLSchema, opts?: { introspection?: boolean }): Map<string, DocumentNode> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`TRUSTED_DOCUMENTS_MANIFEST ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? err}): make it with npm run documents`);
  }
  try {
    return readManifest(text, schema, opts);
  } catch (err) {
    throw new Error(`TRUSTED_DOCUMENTS_MANIFEST ${file} ${(err as Error).message}`);
  }
}

const textRefused = () => new DomainError('TRUSTED_DOCUMENT_REQUIRED',
  'This gateway runs trusted documents only (TRUSTED_DOCUMENTS=only): send extensions.persistedQuery.sha256Hash '
  + 'of a document in its manifest, without query text', { http: httpStatus('TRUSTED_DOCUMENT_REQUIRED') });
const unknownHash = () => new DomainError('PERSISTED_QUERY_NOT_FOUND',
  'No trusted document has this extensions.persistedQuery.sha256Hash (npm run documents builds the manifest); nothing was executed',
  { http: httpStatus('PERSISTED_QUERY_NOT_FOUND') });
const noDocument = () => new DomainError('BAD_REQUEST',
  'Send query text or extensions.persistedQuery: { version: 1, sha256Hash }', { http: httpStatus('BAD_REQUEST') });

/** A hash the request names, or null (Apollo's shape: extensions.persistedQuery { version: 1, sha256Hash }). */
function hashOf(extensions: unknown): string | null {
  const pq = (extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | null | undefined)?.persistedQuery;
  return pq && typeof pq === 'object' && pq.version === 1 && typeof pq.sha256Hash === 'string' ? pq.sha256Hash : null;
}

export class TrustedDocuments {
  constructor(readonly opts: TrustedDocumentsOptions) {}

  /** May this caller send text? `allow`: anyone; `only`: an authenticated admin key, when the setting lets it. */
  mayUseText(principal: Principal | undefined): boolean {
    if (this.opts.mode === 'allow') return true;
    return this.opts.adminText && !!principal && principal.id !== OPEN.id && principal.roles.includes('admin');
  }

  /** graphql-ws: the document a subscribe message names, text to parse, or the refusal. */
  resolve(params: { query?: string | null; extensions?: unknown }, principal: Principal | undefined):
    { document: DocumentNode } | { text: string } | GraphQLError {
    if (params.query) return this.mayUseText(principal) ? { text: params.query } : textRefused();
    const hash = hashOf(params.extensions);
    if (hash === null) return this.opts.mode === 'only' ? textRefused() : noDocument();
    const document = this.opts.documents.get(hash);
    return document ? { document } : unknownHash();
  }

  /** HTTP (POST, GET, each entry of a batch, SSE): yoga's persisted-operations plugin with our codes. */
  plugin(principals: WeakMap<Request, Principal>): Plugin {
    return usePersistedOperations({
      getPersistedOperation: (hash) => this.opts.documents.get(hash) ?? null,
      allowArbitraryOperations: (request) => this.mayUseText(principals.get(request)),
      // Validated against the schema when the manifest was loaded.
      skipDocumentValidation: true,
      customErrors: {
        notFound: unknownHash,
        persistedQueryOnly: textRefused,
        keyNotFound: () => (this.opts.mode === 'only' ? textRefused() : noDocument()),
      },
    }) as Plugin;
  }
}
