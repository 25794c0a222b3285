import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newPage, screenshot } from './support/browser';
import { paySaga, startDashboardStack, type DashboardStack } from './support/dashboard-stack';

/**
 * The pages at a narrow window (760 px) and the overview's chart: wide tables scroll in place instead
 * of squeezing an error to a letter a line or running past the window, and the chart stays in its card.
 */
describe('dashboard in a narrow window', () => {
  let s: DashboardStack;
  let browser: Browser;
  let page: Page;
  const failedId = `narrow-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    s = await startDashboardStack('dash_narrow');
    browser = await launchChromium();
    ({ page } = await newPage(browser, s.origin));
    await page.goto('/');
    await page.getByTestId('api-key-input').fill(s.keys.operator);
    await page.getByTestId('sign-in-button').click();
    await page.getByTestId('identity').waitFor();
    await s.breakInventory();
    expect([201, 202]).toContain((await s.api.post('/v1/transactions', paySaga(failedId))).status);
    await s.api.until(`/v1/transactions/${failedId}`, (t) => t.status === 'failed', 20_000);
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  /** How far the page runs past the window's right edge, in CSS pixels (0: it fits). */
  const overflow = (target: Page) =>
    target.evaluate(() => {
      // the test's own types know no DOM: the page's root element, as far as this needs it
      const root = (
        globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
      ).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });

  it("keeps a failed transaction's timeline and event log readable, scrolling them in place", async () => {
    await page.setViewportSize({ width: 760, height: 900 });
    await page.goto(`/transactions/${failedId}`);
    const error = page.locator('[data-testid=attempt][data-first-failed=true]').getByTestId('attempt-error');
    await error.waitFor({ state: 'attached' });
    await page.getByTestId('event-log').waitFor();
    await screenshot(page, 'narrow-transaction');
    expect(await overflow(page)).toBe(0);
    // "HTTP 500: …" on a line or two, not one letter a line
    expect((await error.boundingBox())!.width).toBeGreaterThan(100);
    expect(await page.getByTestId('transaction-error').textContent()).toMatch(/^Failed because:/);
  });

  it("wraps a long error that has no spaces inside its banner, and scrolls a long saga's graph at its natural size", async () => {
    // a debit of an account no one has, named by 400 letters: the no names it, and the saga aborts
    const id = `narrow-long-${randomBytes(4).toString('hex')}`;
    const steps = Array.from({ length: 30 }, (_, i) => ({
      id: `step-${i}`,
      participant: 'accounts',
      payload: { account: 'A', delta: 1 },
    }));
    const started = await s.api.post('/v1/transactions?wait=20000', {
      id,
      protocol: 'saga',
      branches: [...steps, { id: 'nobody', participant: 'accounts', payload: { account: 'X'.repeat(400), delta: -1 } }],
    });
    expect(started.body.status).toBe('aborted');
    await page.setViewportSize({ width: 760, height: 900 });
    await page.goto(`/transactions/${id}`);
    const banner = page.getByTestId('first-error');
    await banner.waitFor();
    await page.getByTestId('saga-dag').waitFor();
    await screenshot(page, 'narrow-long-error');
    expect(await overflow(page)).toBe(0);
    const box = (await banner.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(760);
    // the graph keeps its own size (its labels readable) and its frame scrolls instead
    const svg = page.getByTestId('saga-dag').locator('svg.dag');
    const drawn = (await svg.boundingBox())!;
    expect(drawn.width).toBe(Number(await svg.getAttribute('width')));
    const frame = (await page.getByTestId('saga-dag-frame').boundingBox())!;
    expect(frame.width).toBeLessThan(drawn.width);
  });

  // the list's table had no scrolling frame: a long id made the whole page run 900 px past the window
  it('keeps the transactions list within the window, its table scrolling in place, with the longest id', async () => {
    const longId = `n${'x'.repeat(127)}`;
    expect((await s.api.post('/v1/transactions', paySaga(longId))).status).toBe(201);
    await page.setViewportSize({ width: 760, height: 900 });
    await page.goto('/transactions');
    await page.locator(`[data-testid=transaction-row][data-id="${longId}"]`).waitFor();
    await screenshot(page, 'narrow-transactions');
    expect(await overflow(page)).toBe(0);
  });

  // at phone width the header ran 200 px past the window, Sign out and the live state out of sight
  it('keeps the header within a phone-width window, Sign out in sight', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto('/transactions');
    await page.locator('[data-testid=transaction-row]').first().waitFor();
    await screenshot(page, 'phone-transactions');
    for (const id of ['sign-out', 'stream-state', 'identity']) {
      const box = (await page.getByTestId(id).boundingBox())!;
      expect([id, box.x + box.width <= 375]).toEqual([id, true]);
    }
    expect(await overflow(page)).toBe(0);
    await page.setViewportSize({ width: 760, height: 900 });
  });

  it('keeps the participants page within the window', async () => {
    await page.goto('/participants');
    await page.locator('[data-testid=participant-row][data-name=inventory]').waitFor();
    await screenshot(page, 'narrow-participants');
    expect(await overflow(page)).toBe(0);
  });

  it("draws the overview's chart inside its card", async () => {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto('/');
    const chart = page.getByTestId('throughput-chart');
    await chart.locator('.uplot').waitFor();
    const card = (await chart.boundingBox())!;
    const plot = (await chart.locator('.uplot').boundingBox())!;
    expect(plot.x + plot.width).toBeLessThanOrEqual(card.x + card.width);
    await page.setViewportSize({ width: 760, height: 900 });
    await screenshot(page, 'narrow-overview');
  });
});
