// The root fields an operation selects, through fragments and inline
// fragments: what the request-level rules (work budget, one write per
// operation) look at. graphql validation rejects fragment cycles; `seen` only
// keeps a malformed document from looping before it is validated.
import {
  Kind, valueFromASTUntyped, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode,
} from 'graphql';

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

/**
 * A field's argument as the request gives it, before execution: a literal, or a variable's value — the one
 * sent (an explicit null included), else the variable's default, as GraphQL's own coercion does. Undefined
 * when the argument is absent, or names a variable neither sent nor defaulted.
 */
export function argumentValue(op: OperationDefinitionNode, field: FieldNode, name: string, variables: Record<string, unknown> | null | undefined): unknown {
  const node = field.arguments?.find((a) => a.name.value === name)?.value;
  if (!node) return undefined;
  if (node.kind !== Kind.VARIABLE) return valueFromASTUntyped(node, variables ?? undefined);
  const v = node.name.value;
  if (variables && v in variables) return variables[v];
  const fallback = op.variableDefinitions?.find((d) => d.variable.name.value === v)?.defaultValue;
  return fallback ? valueFromASTUntyped(fallback) : undefined;
}
