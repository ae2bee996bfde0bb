// The root fields an operation selects, through fragments and inline
// fragments: what the request-level rules (work budget, one write per
// operation) look at. graphql validation rejects fragment cycles; `seen` only
// keeps a malformed document from looping before it is validated.
import { Kind, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

export function rootFields(document: DocumentNode, op: OperationDefinitionNode): FieldNode[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const seen = new Set<string>();
  const fields: FieldNode[] = [];
  const walk = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) fields.push(s);
      else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet);
      else {
        const f = fragments.get(s.name.value);
        if (f && !seen.has(f.name.value)) {
          seen.add(f.name.value);
          walk(f.selectionSet);
        }
      }
    }
  };
  walk(op.selectionSet);
  return fields;
}
