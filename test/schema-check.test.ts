// npm run schema:check as a process: the committed schema against the released one passes; removing a field
// (a breaking change) fails naming it, until it is declared in the accepted file; adding one passes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = ['--import', 'tsx', 'src/scripts/schema-check.ts'];

async function check(args: string[] = []): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...SCRIPT, ...args], { timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout}${e.stderr}` };
  }
}

describe('npm run schema:check', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'schema-check-'));
  const current = path.join(dir, 'schema.graphql');
  const accepted = path.join(dir, 'accepted.txt');
  const args = ['--current', current, '--accepted', accepted];
  const schema = fs.readFileSync('schema.graphql', 'utf8');

  it('passes on the committed schema.graphql against schema.released.graphql', async () => {
    const r = await check();
    expect(r.out).toMatch(/no undeclared breaking change/);
    expect(r.code).toBe(0);
  });

  it('fails on a removed field, naming it, until the change is declared', async () => {
    // Query.catalog, with its description.
    const removed = schema.replace(/ {2}"""[^"]*"""\n {2}catalog\(category: String, limit: Int! = 200, search: String\): \[Item!\]!\n/, '');
    expect(removed).not.toBe(schema);
    fs.writeFileSync(current, removed);
    fs.writeFileSync(accepted, '# nothing declared\n');
    const r = await check(args);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FIELD_REMOVED Query\.catalog/);
    fs.writeFileSync(accepted, 'FIELD_REMOVED Query.catalog  # replaced by search in v2\n');
    const declared = await check(args);
    expect(declared.out).toMatch(/1 declared/);
    expect(declared.code).toBe(0);
  });

  it('passes on an added field', async () => {
    fs.writeFileSync(current, schema.replace(/^type Query \{\n/m, 'type Query {\n  ping: Boolean\n'));
    fs.writeFileSync(accepted, '');
    const r = await check(args);
    expect(r.out).toMatch(/FIELD_ADDED|added/i);
    expect(r.code).toBe(0);
  });
});
