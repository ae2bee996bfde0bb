// GraphiQL in a real browser (Debian's Chromium): served from the installed package, it renders offline,
// runs the ready decisionContext example against the demo data, and no request leaves this machine;
// with keys on, its tabs carry the authorization header to fill in.
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/keys.js';
import { seedDemo } from '../src/writes/seed.js';
import { chromiumRunnable, launchChromium, type Chromium } from './browser.js';
import { ownDatabase } from './helpers.js';
import { liveGateway, until, type LiveGateway } from './live-helpers.js';

const LOCAL = /^(https?|wss?):\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/|^(blob:https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/|data:)/;

describe.runIf(chromiumRunnable)('GraphiQL', () => {
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let gw: LiveGateway;
  let browser: Chromium | undefined;
  const requests: string[] = [];

  beforeAll(async () => {
    db = await ownDatabase();
    gw = await liveGateway({}, db.url);
    await seedDemo(gw.sql);
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
  });

  async function open(): Promise<Page> {
    await browser?.close();
    browser = await launchChromium({ width: 1400, height: 800 });
    browser.context.on('request', (r) => requests.push(r.url()));
    browser.context.on('page', (p) => p.on('websocket', (ws) => requests.push(ws.url())));
    const page = await browser.context.newPage();
    await page.goto(gw.url);
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    return page;
  }

  // Monaco lays out spaces as no-break spaces.
  const result = async (page: Page) => (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');

  it('renders from the installed package, runs the decision example, and nothing leaves localhost', async () => {
    const page = await open();
    expect(await page.title()).toBe('Decision-context gateway');
    // The ready tabs: the decision, a purchase, each subscription, and the resume from a cursor.
    await until(async () => (await page.locator('.graphiql-tab').count()) === 5, 10_000);
    const answer = page.waitForResponse((r) => r.url() === gw.url && r.request().method() === 'POST'
      && (r.request().postData() ?? '').includes('decisionContext'), { timeout: 15_000 });
    await page.locator('.graphiql-execute-button').click();
    const body = await (await answer).json();
    expect(body.data.decisionContext.candidates.map((c: { reasons: string[] }) => c.reasons))
      .toEqual([[], ['OUT_OF_STOCK'], ['QUALITY_HOLD']]);
    // …and the page shows it (the result pane renders only its visible lines).
    await until(async () => (await result(page)).includes('sku-espresso'), 15_000);
    expect(await result(page)).toContain('"intent": "CONSIDERING"');
    fs.mkdirSync('test/artifacts', { recursive: true });
    await page.screenshot({ path: 'test/artifacts/graphiql.png' }); // docs/graphiql.png is a copy
    expect(requests.some((u) => u.startsWith(gw.url))).toBe(true);
    expect(requests.filter((u) => !LOCAL.test(u))).toEqual([]);
  });

  it('with keys on, shows the authorization header; a pasted key runs the example', async () => {
    const { key } = await createKey(gw.sql, 'reader', 'graphiql test');
    await until(() => gw.keys.enabled);
    const page = await open();
    const headers = page.locator('.graphiql-editor-tool');
    await until(async () => (await headers.innerText()).includes('Bearer'), 10_000);
    expect(await headers.innerText()).toMatch(/authorization/);
    // Replace the placeholder with the key and run.
    await headers.locator('.monaco-editor[data-uri$="request-headers.json"]').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify({ authorization: `Bearer ${key}` }));
    await page.keyboard.press('Shift+End'); // what the editor auto-closed after the cursor
    await page.keyboard.press('Delete');
    await page.locator('.graphiql-execute-button').click();
    await until(async () => (await result(page)).includes('sku-espresso'), 15_000);
    expect(requests.filter((u) => !LOCAL.test(u))).toEqual([]);
  });
});
