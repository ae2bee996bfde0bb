// The example BFF (examples/bff/, typed by `npm run codegen`; `npm test` type-checks it with tsc) against a
// real gateway: a purchase, a decision that includes it, and the next stock change pushed live — with text on
// an open gateway, and by trusted-document hash under TRUSTED_DOCUMENTS=only with a key, as a process too.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBff } from '../examples/bff/index.js';
import { createKey } from '../src/auth/keys.js';
import { items, ownDatabase } from './helpers.js';
import { liveGateway, post, until, type LiveGateway } from './live-helpers.js';

const run = promisify(execFile);

describe('example BFF', () => {
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let open: LiveGateway;

  beforeAll(async () => {
    db = await ownDatabase();
    open = await liveGateway({}, db.url);
    await post(open.url, 'mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }', { i: items('bff', { a: { available: 10 } }) });
  });
  afterAll(async () => {
    await open?.stop();
    await db?.drop();
  });

  it('the generated documents are what npm run codegen makes now', async () => {
    const { stdout } = await run('npx', ['graphql-codegen', '--config', 'examples/bff/codegen.ts', '--check'], { timeout: 60_000 })
      .catch((err: { stdout?: string; stderr?: string }) => { throw new Error(`stale: run npm run codegen\n${err.stdout}${err.stderr}`); });
    expect(stdout).not.toMatch(/stale/);
  });

  it('records a purchase, reads a decision that includes it, and gets the next change live', async () => {
    const report = await runBff({ url: open.url, userId: 'bff-u', sku: 'bff-a' });
    expect(report.purchase.stock).toEqual([{ sku: 'bff-a', available: 9, previous: 10 }]);
    expect(report.consistencyToken).toBeNull(); // no replicas: the primary always includes the write
    expect(report.decision.candidates[0]).toMatchObject({ sku: 'bff-a', inventory: { available: 9 }, velocity: { salesLast5m: 1 } });
    // The second purchase, after the decision's snapshot: the first change the subscription delivers.
    expect(report.change).toMatchObject({ sku: 'bff-a', available: 8, previous: 9, cause: 'PURCHASE' });
    expect(BigInt(report.change.cursor)).toBeGreaterThan(BigInt(report.decision.snapshot.cursor));
  });

  it('runs as a process by trusted-document hashes against TRUSTED_DOCUMENTS=only with a key', async () => {
    const only = await liveGateway({ trustedDocuments: 'only', trustedDocumentsManifest: 'trusted-documents.json' }, db.url);
    try {
      const { key } = await createKey(db.sql, ['reader', 'subscriber', 'writer'], 'bff test');
      await until(() => typeof only.keys.authenticate(`Bearer ${key}`) !== 'string');
      const env = { ...process.env, GATEWAY_URL: only.url, GATEWAY_KEY: key, TRUSTED_DOCUMENTS_MANIFEST: 'trusted-documents.json' };
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/bff/index.ts', 'bff-u', 'bff-a'], { env, timeout: 60_000 });
      const report = JSON.parse(stdout);
      expect(report.purchase.stock).toEqual([{ sku: 'bff-a', available: 7, previous: 8 }]);
      expect(report.decision.candidates[0].inventory.available).toBe(7);
      expect(report.change).toMatchObject({ sku: 'bff-a', available: 6, cause: 'PURCHASE' });
      // Without the manifest the same BFF sends text, which `only` refuses.
      await expect(runBff({ url: only.url, key, userId: 'bff-u', sku: 'bff-a' })).rejects.toThrow(/TRUSTED_DOCUMENT_REQUIRED/);
    } finally {
      await only.stop();
    }
  });
});
