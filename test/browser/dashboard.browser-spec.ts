import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, markDocument, newPage, screenshot, stillSameDocument } from './support/browser';
import { paySaga, startDashboardStack, type DashboardStack } from './support/dashboard-stack';

/**
 * The operator's path through the dashboard, in a real Chromium against a real coordinator and the
 * demo services: sign in, find the saga the broken inventory made fail, read why on its timeline,
 * heal the inventory, replay, and watch it settle, all without reloading.
 */
describe('operator dashboard', () => {
  let s: DashboardStack;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  const failedId = `order-${randomBytes(4).toString('hex')}`;
  const viewersFailedId = `viewer-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    s = await startDashboardStack('dashboard');
    browser = await launchChromium();
    ({ page, problems } = await newPage(browser, s.origin));
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });
  afterEach(() => {
    if (problems.length > 0) console.log(`browser said:\n  ${problems.join('\n  ')}`);
    problems.length = 0;
  });

  /** Signs `page` in with `key` from the sign-in page. */
  async function signIn(target: Page, key: string) {
    await target.getByTestId('api-key-input').fill(key);
    await target.getByTestId('sign-in-button').click();
    await target.getByTestId('identity').waitFor();
  }

  it('asks for a key, names the refusal of a wrong one, and signs in with a right one', async () => {
    await page.goto('/');
    await page.getByTestId('sign-in-form').waitFor();
    await page.getByTestId('api-key-input').fill('not-a-key-anybody-knows');
    await page.getByTestId('sign-in-button').click();
    const refusal = await page.getByTestId('sign-in-problem').textContent();
    expect(refusal).toBeTruthy();

    await signIn(page, s.keys.operator);
    expect(await page.getByTestId('identity').textContent()).toContain('ops-alice');
    expect(await page.getByTestId('open-mode-banner').count()).toBe(0);
    await page.getByTestId('overview-page').waitFor();
  });

  it('finds the saga a broken inventory made fail by filtering the list, and shows why on its timeline', async () => {
    for (let i = 0; i < 3; i++) {
      const ok = await s.api.post('/v1/transactions?wait=10000', { ...paySaga(`ok-${i}-${failedId}`) });
      expect(ok.body.status).toBe('committed');
    }
    await s.breakInventory();
    const started = await s.api.post('/v1/transactions', paySaga(failedId));
    expect([201, 202]).toContain(started.status);
    await s.api.until(`/v1/transactions/${failedId}`, (t) => t.status === 'failed', 20_000);

    await page.getByRole('link', { name: 'Transactions' }).click();
    await page.getByTestId('filter-attention').selectOption('failed');
    await page.waitForURL(/attention=failed/);
    await page.locator('[data-testid=transactions-table][aria-busy=false]').waitFor();
    const row = page.locator(`[data-testid=transaction-row][data-id="${failedId}"]`);
    await row.waitFor();
    expect(await page.locator('[data-testid=transaction-row]').count()).toBe(1);
    expect(await row.getAttribute('data-status')).toBe('failed');
    await screenshot(page, 'transactions-failed');

    await row.getByRole('link', { name: failedId }).click();
    await page.waitForURL(`**/transactions/${failedId}`);
    const firstFailure = page.locator('[data-testid=attempt][data-first-failed=true]');
    await firstFailure.waitFor();
    expect(await firstFailure.getByTestId('attempt-error').textContent()).toContain('HTTP 500');
    expect(await page.getByTestId('first-error').textContent()).toContain('HTTP 500');
    await page.locator('[data-testid=dag-node][data-branch=reserve][data-compensation=true]').waitFor();
    await screenshot(page, 'transaction-failed');
  });

  it('replays it with a reason once the inventory is healed, and shows it reach aborted without a reload', async () => {
    await s.healInventory();
    await markDocument(page);
    // cancelled, the dialog gives the focus back to the button that opened it
    await page.getByTestId('replay-button').click();
    await page.getByTestId('reason-dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('reason-dialog').waitFor({ state: 'detached' });
    expect(
      await page.getByTestId('replay-button').evaluate((button: any) => button === button.ownerDocument.activeElement),
    ).toBe(true);

    await page.getByTestId('replay-button').click();
    const confirm = page.getByTestId('confirm-button');
    expect(await confirm.isDisabled()).toBe(true); // the reason is required
    await page.getByTestId('reason-input').fill('inventory fixed, INC-4711');
    await confirm.click();

    await page.locator('[data-testid=transaction-header] [data-testid=status-badge][data-status=aborted]').waitFor();
    expect(await stillSameDocument(page)).toBe(true);
    const replayed = page.locator('[data-testid=event-row][data-type="operator.replay"]');
    await replayed.waitFor();
    expect(await replayed.textContent()).toMatch(/ops-alice.*inventory fixed, INC-4711/);
    // history is kept: the first failure is still shown after the replay
    expect(await page.getByTestId('first-error').textContent()).toContain('HTTP 500');
    await screenshot(page, 'transaction');
  });

  it('shows a transaction started while the list is open, without a reload', async () => {
    await page.goto('/transactions');
    await page.locator('[data-testid=stream-state][data-state=live]').waitFor();
    await page.getByTestId('transactions-table').waitFor();
    await markDocument(page);
    const id = `live-${randomBytes(4).toString('hex')}`;
    expect([200, 201, 202]).toContain((await s.api.post('/v1/transactions', paySaga(id))).status);
    await page.locator(`[data-testid=transaction-row][data-id="${id}"]`).waitFor();
    await page.locator(`[data-testid=transaction-row][data-id="${id}"][data-status=committed]`).waitFor();
    expect(await stillSameDocument(page)).toBe(true);
    await screenshot(page, 'transactions');
  });

  it('shows a viewer no replay button, and the API refuses the viewer’s replay with 403', async () => {
    await s.breakInventory();
    const id = viewersFailedId;
    await s.api.post('/v1/transactions', paySaga(id));
    await s.api.until(`/v1/transactions/${id}`, (t) => t.status === 'failed', 20_000);
    await s.healInventory();

    const viewer = await newPage(browser, s.origin);
    try {
      await viewer.page.goto(`/transactions/${id}`);
      await signIn(viewer.page, s.keys.viewer);
      await viewer.page.locator('[data-testid=transaction-header] [data-status=failed]').waitFor();
      expect(await viewer.page.getByTestId('replay-button').count()).toBe(0);
      expect(await viewer.page.getByTestId('operator-actions').count()).toBe(0);
      expect(await viewer.page.getByRole('link', { name: 'Keys' }).count()).toBe(0);

      const status = await viewer.page.evaluate(async (txId) => {
        // runs in the page: the key the dashboard keeps in sessionStorage
        const { sessionStorage } = globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } };
        const answer = await fetch(`/v1/transactions/${encodeURIComponent(txId)}/replay`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${sessionStorage.getItem('txc.apiKey')}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ reason: 'a viewer tries' }),
        });
        return answer.status;
      }, id);
      expect(status).toBe(403);

      await viewer.page.getByTestId('sign-out').click();
      await viewer.page.getByTestId('sign-in-form').waitFor();
    } finally {
      if (viewer.problems.length > 0) console.log(`viewer's browser said:\n  ${viewer.problems.join('\n  ')}`);
      await viewer.page.context().close();
    }
  });

  // The live stream stopped only on 401: a key whose role may not watch (403) asked again every
  // 1-5 s for as long as the page stayed open, and the header said "connecting" for good.
  it('stops the live stream for a key whose role may not watch it, says it is not live, and offers no page', async () => {
    const created = await s.api.post('/v1/keys', {
      name: `svc-${randomBytes(3).toString('hex')}`,
      role: 'participant',
    });
    expect(created.status).toBe(201);
    const service = await newPage(browser, s.origin);
    const asked: string[] = [];
    service.page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v1/stream') asked.push(r.url());
    });
    try {
      await service.page.goto('/');
      await signIn(service.page, created.body.key);
      await service.page.locator('[data-testid=stream-state][data-state=stopped]').waitFor();
      // the pages it may not read are not offered: one message says what the key is for
      await service.page.getByTestId('no-read-access').waitFor();
      expect(await service.page.getByTestId('no-read-access').textContent()).toMatch(/role participant/);
      expect(await service.page.locator('nav a').count()).toBe(0);
      // the reconnects came 1 s, 2 s and 4 s apart: none within 4 s
      await service.page.waitForTimeout(4_000);
      expect(asked).toHaveLength(1);
    } finally {
      await service.page.context().close();
    }
  });

  it('shows the overview, whose failed banner leads to the failed transactions', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByTestId('throughput-chart').waitFor();
    const banner = page.getByTestId('failed-banner').filter({ hasText: /^1 transaction failed and needs an operator/ });
    await banner.waitFor();
    await page.getByTestId('top-errors-table').waitFor();
    await screenshot(page, 'overview');
    await banner.click();
    await page.waitForURL(/\/transactions\?attention=failed$/);
    await page.locator(`[data-testid=transaction-row][data-id="${viewersFailedId}"]`).waitFor();
    // the replayed one left the filter: only the viewer's failed transaction is listed
    await page.locator(`[data-testid=transaction-row][data-id="${failedId}"]`).waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid=transaction-row]').count()).toBe(1);
  });

  it('shows a list of statuses given in a link as the status filter, and lists only those', async () => {
    await page.goto(`${s.origin}/transactions?status=aborted,failed`);
    await page.locator(`[data-testid=transaction-row][data-id="${failedId}"]`).waitFor();
    expect(await page.getByTestId('filter-status').inputValue()).toBe('aborted,failed');
    expect(await page.locator('[data-testid=filter-status] option:checked').textContent()).toBe('aborted, failed');
    const statuses = await page
      .locator('[data-testid=transaction-row]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-status')));
    expect(new Set(statuses)).toEqual(new Set(['aborted', 'failed']));
  });
});
