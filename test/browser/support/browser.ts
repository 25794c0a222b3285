import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (installed by .ci/run when missing); playwright-core downloads no browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const ARTIFACTS = resolve(__dirname, '../artifacts');

/** How long a test waits for something the page should show: generous, it is not a timing check. */
export const PATIENCE_MS = 20_000;

/** `extraArgs`: more Chromium flags (a host-resolver rule, say). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

/**
 * A page whose console errors and uncaught exceptions are collected, to print when a test fails
 * (a blank page says nothing by itself).
 */
export async function newPage(browser: Browser, origin: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ baseURL: origin, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE_MS);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // a refused call (no key yet, a viewer's replay) is part of the tests; anything else is worth seeing
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  return { page, problems };
}

/** Saves a full-page screenshot as test/browser/artifacts/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * Marks the current document; {@link stillSameDocument} then tells whether the page was reloaded
 * (or navigated away by the server) since. Client-side route changes keep the mark.
 */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as { __txcMark?: boolean }).__txcMark = true;
  });
}

export async function stillSameDocument(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as { __txcMark?: boolean }).__txcMark === true);
}
