// Debian's Chromium driven by playwright-core, for the browser tests (live board, GraphiQL): headless, no
// sandbox (root in CI), nothing of its own on the network, and a fresh profile per launch.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// CI installs Chromium (.ci/run); elsewhere these tests need it too, unless it is absent outside CI.
export const chromiumRunnable = fs.existsSync(CHROMIUM) || !!process.env.CI;

export interface Chromium { context: BrowserContext; close(): Promise<void> }

export async function launchChromium(viewport = { width: 1400, height: 700 }): Promise<Chromium> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
