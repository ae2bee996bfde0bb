// `npm run documents -- build [folder…] [--out file]`: the trusted-documents manifest (Apollo's
// persisted-query manifest: sha256 of each operation's printed text → text) of every .graphql file under
// the folders (default examples/bff/operations), validated against the served schema, written to --out
// (default TRUSTED_DOCUMENTS_MANIFEST or ./trusted-documents.json). `check` fails (exit 1) when that file
// differs from what build would write; `list` prints its entries.
import fs from 'node:fs';
import path from 'node:path';
import { buildManifest, type Manifest } from '../plugins/trusted-documents.js';
import { schema } from '../schema/index.js';

export function graphqlFiles(folder: string): string[] {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(folder, e.name);
    return e.isDirectory() ? graphqlFiles(p) : /\.(graphql|gql)$/.test(e.name) ? [p] : [];
  }).sort();
}

export const manifestOf = (folders: string[]): Manifest =>
  buildManifest(folders.flatMap(graphqlFiles).map((file) => ({ file, text: fs.readFileSync(file, 'utf8') })), schema);

export const manifestText = (m: Manifest) => `${JSON.stringify(m, null, 2)}\n`;

if (process.argv[1]?.endsWith('documents.ts')) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = path.resolve(outAt >= 0 ? args[outAt + 1] ?? '' : process.env.TRUSTED_DOCUMENTS_MANIFEST || 'trusted-documents.json');
  const [command, ...folders] = outAt >= 0 ? args.filter((_, i) => i !== outAt && i !== outAt + 1) : args;
  if (!folders.length) folders.push('examples/bff/operations');
  try {
    if (command === 'build') {
      const m = manifestOf(folders);
      fs.writeFileSync(out, manifestText(m));
      console.log(`wrote ${path.relative('.', out)}: ${m.operations.length} documents from ${folders.join(', ')}`);
    } else if (command === 'check') {
      const fresh = manifestText(manifestOf(folders));
      if (!fs.existsSync(out) || fs.readFileSync(out, 'utf8') !== fresh) {
        console.error(`${path.relative('.', out)} is not what ${folders.join(', ')} make: run npm run documents -- build`);
        process.exitCode = 1;
      } else console.log(`${path.relative('.', out)} is up to date`);
    } else if (command === 'list') {
      const m = JSON.parse(fs.readFileSync(out, 'utf8')) as Manifest;
      for (const op of m.operations) console.log(`${op.id}  ${op.type.padEnd(12)}  ${op.name}`);
    } else {
      console.error('usage: npm run documents -- build|check|list [folder…] [--out manifest.json]');
      process.exitCode = 2;
    }
  } catch (err) {
    console.error(`documents: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
