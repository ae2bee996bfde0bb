// The embedded default: data written before a stop is there after a start,
// and a folder the postgres user cannot enter is named in a clear error.
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbedded } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { upsertItems } from '../src/writes/items.js';
import { freePort } from './global-setup.js';

const dataDir = path.resolve('.data', `restart-${process.pid}-${Date.now()}`);
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('embedded PostgreSQL', () => {
  it('keeps data across a stop and a start, without hooking the process exit code', async () => {
    const port = await freePort();
    const exitHooks = () => ['beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'message'].map((e) => process.listenerCount(e));
    const hooksBefore = exitHooks();
    const first = await startEmbedded({ dataDir, port });
    // async-exit-hook would process.exit(0) on beforeExit: a failing test run would exit green.
    expect(exitHooks()).toEqual(hooksBefore);
    await migrate(first.url);
    const sql = postgres(first.url, { max: 1, onnotice: () => {} });
    await upsertItems(sql, [{ sku: 'persisted', title: 'Kept', category: 'c', priceMinor: 100, currency: 'EUR', available: 3 }]);
    await sql.end();
    await first.stop();

    const second = await startEmbedded({ dataDir, port });
    const again = postgres(second.url, { max: 1, onnotice: () => {} });
    const rows = await again`select i.title, s.available from items i join inventory s using (sku) where sku = 'persisted'`;
    await again.end();
    await second.stop();
    expect(rows).toEqual([{ title: 'Kept', available: 3 }]);
  });

  it.runIf(process.getuid?.() === 0)('names the folder the postgres user cannot traverse', async () => {
    const locked = path.resolve('.data', `locked-${process.pid}`);
    fs.mkdirSync(locked, { recursive: true, mode: 0o700 });
    fs.chmodSync(locked, 0o700);
    try {
      await expect(startEmbedded({ dataDir: path.join(locked, 'pg'), port: await freePort() }))
        .rejects.toThrow(new RegExp(`cannot enter ${locked}.*DATABASE_URL`));
    } finally {
      fs.rmSync(locked, { recursive: true, force: true });
    }
  });
});
