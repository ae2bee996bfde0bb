// The live board in a real browser (Debian's Chromium driven by playwright-core):
// first paint, a change within 1 s, catching up after the change listener is
// killed, and a hold set from the page reaching decisionContext.
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumRunnable, launchChromium, type Chromium } from './browser.js';
import { items, ownDatabase } from './helpers.js';
import { liveGateway, post, type LiveGateway } from './live-helpers.js';

describe.runIf(chromiumRunnable)('live board', () => {
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let gw: LiveGateway;
  let browser: Chromium;
  let page: Page;
  const cell = (sku: string, cls: string) => page.locator(`tr[data-sku="${sku}"] td.${cls}`);

  beforeAll(async () => {
    db = await ownDatabase();
    gw = await liveGateway({}, db.url);
    await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, {
      i: [...items('board', { a: { available: 5, category: 'kitchen' }, b: { available: 3, category: 'kitchen' } }),
        ...items('board', { c: { available: 9, category: 'garden' } })],
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(gw.url.replace('/graphql', '/live'));
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 10_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
  });

  it('paints every SKU from one snapshot, filters by category and search', async () => {
    expect(await cell('board-a', 'available').textContent()).toBe('5');
    expect(await page.locator('tbody tr').count()).toBe(3);
    await page.selectOption('#category', 'garden');
    expect(await page.locator('tbody tr:visible').count()).toBe(1);
    await page.selectOption('#category', '');
    await page.fill('#search', 'board-b');
    expect(await page.locator('tbody tr:visible').count()).toBe(1);
    await page.fill('#search', '');
  });

  it('shows a committed change within 1 s', async () => {
    await post(gw.url, 'mutation { setInventory(sku: "board-a", available: 4) { available } }');
    await page.waitForFunction(() => document.querySelector('tr[data-sku="board-a"] td.available')?.textContent === '4',
      null, { timeout: 1000 });
    // A stock correction is not a sale.
    expect(await page.locator('tr[data-sku="board-a"] td.num').nth(2).textContent()).toBe('0');
  });

  it('catches up with no lost change after the change listener is killed', async () => {
    await gw.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`;
    for (let i = 0; i < 3; i++) {
      await post(gw.url, 'mutation { recordEvents(events: [{ kind: PURCHASE, userId: "u", sku: "board-b" }]) { accepted } }');
    }
    await page.waitForFunction(() => document.querySelector('tr[data-sku="board-b"] td.available')?.textContent === '0',
      null, { timeout: 10_000 });
    // Three sales of one unit each, none lost or counted twice; the sold-out row turns red.
    expect(await page.locator('tr[data-sku="board-b"] td.num').nth(2).textContent()).toBe('3');
    expect(await page.locator('tr[data-sku="board-b"]').getAttribute('class')).toContain('zero');
  });

  it('reconnects by itself after its WebSocket drops, resuming from its last cursor', async () => {
    for (const ws of gw.wss.clients) ws.terminate();
    await page.waitForSelector('#status[data-state="reconnecting"]', { timeout: 5000 });
    await post(gw.url, 'mutation { setInventory(sku: "board-a", available: 2) { available } }'); // lands while it is away
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('tr[data-sku="board-a"] td.available')?.textContent === '2',
      null, { timeout: 5000 });
    await post(gw.url, 'mutation { setInventory(sku: "board-a", available: 1) { available } }');
    await page.waitForFunction(() => document.querySelector('tr[data-sku="board-a"] td.available')?.textContent === '1',
      null, { timeout: 2000 });
  });

  it('sets a hold from the page that decisionContext then answers', async () => {
    page.once('dialog', (d) => void d.accept('supplier recall'));
    await page.click('tr[data-sku="board-c"] button[data-kind="QUALITY_HOLD"]');
    await page.waitForFunction(() => document.querySelector('tr[data-sku="board-c"] td.holds')?.textContent?.includes('QUALITY_HOLD'),
      null, { timeout: 5000 });
    const d = await post(gw.url, '{ decisionContext(userId: "u", candidates: ["board-c"]) { candidates { reasons policy { reason } } } }');
    expect(d.data.decisionContext.candidates[0]).toEqual({ reasons: ['QUALITY_HOLD'], policy: [{ reason: 'supplier recall' }] });
    expect(await page.locator('#flips li').first().textContent()).toContain('QUALITY_HOLD on SKU board-c');
    fs.mkdirSync('test/artifacts', { recursive: true });
    await page.screenshot({ path: 'test/artifacts/board.png', fullPage: true });
  });

  it('past 500 SKUs says how many it shows and finds the others through search on the server', async () => {
    expect(await page.locator('#truncated').textContent()).toBe('');
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, k) => [`z${String(k).padStart(4, '0')}`, { available: 7, category: 'bulk' }]));
    await post(gw.url, `mutation($i: [ItemInput!]!) { upsertItems(items: $i) { count } }`, { i: items('board', many) });
    await page.reload();
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 10_000 });
    expect(await page.locator('#truncated').textContent()).toMatch(/first 500 matching SKUs/);
    expect(await page.locator('tbody tr').count()).toBe(500);
    expect(await page.locator('tr[data-sku="board-z0999"]').count()).toBe(0); // past the first page
    await page.fill('#search', 'board-z0999');
    await page.waitForSelector('tr[data-sku="board-z0999"]', { timeout: 10_000 });
    expect(await page.locator('#truncated').textContent()).toBe('');
    expect(await cell('board-z0999', 'available').textContent()).toBe('7');
  });
});
