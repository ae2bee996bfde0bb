// `npm run schema:check`: schema.graphql against the last released schema (schema.released.graphql) with
// @graphql-inspector/core. Exits 1 on a breaking change not declared in schema.breaking-accepted.txt (one
// `<CHANGE_TYPE> <path>` a line, `# why` after it; printed ready to paste). Dangerous and safe changes are listed.
// `npm run schema:release`: the current schema becomes the released one, and the declarations are emptied.
import fs from 'node:fs';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

export const declarationOf = (c: Change) => `${c.type} ${c.path ?? ''}`.trim();

/** The accepted declarations of a file's text: `<TYPE> <path>` per line; blank lines and `#` comments ignored. */
export const acceptedOf = (text: string) =>
  new Set(text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean));

export async function checkSchema(released: string, current: string, accepted: Set<string>) {
  const changes = await diff(buildSchema(released), buildSchema(current));
  const breaking = changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking);
  return {
    changes,
    undeclared: breaking.filter((c) => !accepted.has(declarationOf(c))),
    declared: breaking.filter((c) => accepted.has(declarationOf(c))),
  };
}

if (process.argv[1]?.endsWith('schema-check.ts')) {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] ?? fallback : fallback; };
  const released = opt('--released', 'schema.released.graphql');
  const current = opt('--current', 'schema.graphql');
  const acceptedFile = opt('--accepted', 'schema.breaking-accepted.txt');
  if (args[0] === 'release') {
    fs.copyFileSync(current, released);
    fs.writeFileSync(acceptedFile, '# Breaking changes accepted since schema.released.graphql: `<CHANGE_TYPE> <path>  # why`, one a line.\n');
    console.log(`${current} is now ${released}; ${acceptedFile} emptied`);
  } else {
    const accepted = acceptedOf(fs.existsSync(acceptedFile) ? fs.readFileSync(acceptedFile, 'utf8') : '');
    const { changes, undeclared, declared } = await checkSchema(fs.readFileSync(released, 'utf8'), fs.readFileSync(current, 'utf8'), accepted);
    for (const c of changes) {
      const mark = c.criticality.level === CriticalityLevel.Breaking ? (undeclared.includes(c) ? 'BREAKING' : 'breaking, declared') : c.criticality.level.toLowerCase();
      console.log(`${mark.padEnd(18)} ${c.message}`);
    }
    if (undeclared.length) {
      console.error(`\nschema:check: ${undeclared.length} breaking change(s) against ${released} not declared in ${acceptedFile}.`
        + ' Keep the old field/type/argument (deprecate it), or declare each, with why, by adding:');
      for (const c of undeclared) console.error(`${declarationOf(c)}  # why`);
      process.exitCode = 1;
    } else {
      console.log(`schema:check: ${current} against ${released}: ${changes.length} change(s), no undeclared breaking change${declared.length ? ` (${declared.length} declared)` : ''}`);
    }
  }
}
