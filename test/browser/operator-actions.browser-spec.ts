import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newPage, screenshot } from './support/browser';
import { paySaga, startDashboardStack, type DashboardStack } from './support/dashboard-stack';

/** Retry now on a transaction waiting out a long backoff, and bulk replay of a participant's failures. */
describe('dashboard operator actions', () => {
  let s: DashboardStack;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  const tag = randomBytes(4).toString('hex');

  beforeAll(async () => {
    s = await startDashboardStack('dash_ops');
    browser = await launchChromium();
    ({ page, problems } = await newPage(browser, s.origin));
    await page.goto('/');
    await page.getByTestId('api-key-input').fill(s.keys.operator);
    await page.getByTestId('sign-in-button').click();
    await page.getByTestId('identity').waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });
  afterEach(async () => {
    await s.healInventory();
    if (problems.length > 0) console.log(`browser said:\n  ${problems.join('\n  ')}`);
    problems.length = 0;
  });

  it('shows a branch retrying and calls it at once on Retry now', async () => {
    await s.breakInventory();
    const id = `slow-${tag}`;
    // the next attempt would come in a minute: only Retry now brings it sooner
    const slow = { ...paySaga(id), retry: { maxAttempts: 5, initialBackoffMs: 60_000, maxBackoffMs: 60_000 } };
    await s.api.post('/v1/transactions', slow);
    await s.api.until(`/v1/transactions/${id}`, (t) => t.attention === 'retrying', 20_000);

    await page.goto(`/transactions?q=${id}`);
    await page.locator(`[data-testid=transaction-row][data-id="${id}"] [data-testid=retrying-badge]`).first().waitFor();
    await page.goto(`/transactions/${id}`);
    await page.locator('[data-testid=timeline-branch][data-branch=reserve] [data-testid=branch-retrying]').waitFor();

    await s.healInventory();
    await page.getByTestId('retry-button').click();
    await page.getByTestId('reason-input').fill('inventory is back');
    await page.getByTestId('confirm-button').click();
    await page.locator('[data-testid=transaction-header] [data-testid=status-badge][data-status=committed]').waitFor();
    await page.locator('[data-testid=event-row][data-type="operator.retry"]').waitFor();
  });

  it('shows a branch starting to retry without a status change, on the list and its page, without a reload', async () => {
    await s.breakInventory();
    const slowPay = async (id: string) => {
      // pay answers after 1.5 s (within the 2 s call timeout): until then the saga is running and
      // healthy; then reserve fails and waits out a minute, with no status change
      const armed = await fetch(`${s.demo.accountsUrl}/_faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          transactionId: id,
          phase: 'action',
          status: 200,
          when: 'after',
          times: 1,
          delayMs: 2500,
        }),
      });
      expect(armed.ok).toBe(true);
      const slow = { ...paySaga(id), retry: { maxAttempts: 5, initialBackoffMs: 60_000, maxBackoffMs: 60_000 } };
      expect((await s.api.post('/v1/transactions', slow)).status).toBe(201);
    };

    const listed = `quiet-list-${tag}`;
    // started first, so the page's first read has it (no race with the stream's connection)
    await slowPay(listed);
    await page.goto(`/transactions?q=${listed}`);
    const row = page.locator(`[data-testid=transaction-row][data-id="${listed}"]`);
    await row.waitFor();
    // no status changes after `running`: only the page's own refresh can show the retrying branch
    await row.locator('[data-testid=retrying-badge]').first().waitFor({ timeout: 30_000 });

    const opened = `quiet-page-${tag}`;
    await slowPay(opened);
    await page.goto(`/transactions/${opened}`);
    await page.getByTestId('transaction-header').waitFor();
    // reserve failing, or pay answering past the call timeout on a loaded machine: either way a
    // branch starts retrying with no status change
    await page
      .locator('[data-testid=timeline-branch] [data-testid=branch-retrying]')
      .first()
      .waitFor({ timeout: 30_000 });
    await page.getByTestId('retry-button').waitFor();
  });

  it('keeps an open reason dialog, and what was typed, while another operator acts; says the action waits', async () => {
    await s.breakInventory();
    const id = `contested-${tag}`;
    // each failing attempt a second apart: the replay below keeps it aborting for a few seconds
    await s.api.post('/v1/transactions', {
      ...paySaga(id),
      retry: { maxAttempts: 3, initialBackoffMs: 1_000, maxBackoffMs: 1_000 },
    });
    await s.api.until(`/v1/transactions/${id}`, (t) => t.status === 'failed', 20_000);
    await page.goto(`/transactions/${id}`);
    await page.getByTestId('replay-button').click();
    await page.getByTestId('reason-input').fill('INC-12: inventory back');

    // someone else replays it meanwhile; inventory still fails, so it is aborting, then failed again
    expect((await s.api.post(`/v1/transactions/${id}/replay`, { reason: 'elsewhere' })).status).toBeLessThan(300);
    await page.getByTestId('action-unavailable').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('confirm-button').isDisabled()).toBe(true);
    await screenshot(page, 'reason-dialog-unavailable');
    await s.api.until(`/v1/transactions/${id}`, (t) => t.status === 'failed', 20_000);
    await page.getByTestId('action-unavailable').waitFor({ state: 'detached', timeout: 15_000 });
    expect(await page.getByTestId('reason-input').inputValue()).toBe('INC-12: inventory back');
    expect(await page.getByTestId('confirm-button').isDisabled()).toBe(false);
    await page.getByTestId('reason-dialog').getByRole('button', { name: 'Cancel' }).click();
    // leaves no failed transaction behind for the bulk replay below
    await s.healInventory();
    expect((await s.api.post(`/v1/transactions/${id}/replay`, { reason: 'cleanup' })).status).toBeLessThan(300);
    await s.api.until(`/v1/transactions/${id}`, (t) => t.status === 'aborted', 20_000);
  });

  it('bulk-replays the failed transactions of a participant: dry run, the frozen list, then each outcome', async () => {
    await s.breakInventory();
    const ids = [`bulk-a-${tag}`, `bulk-b-${tag}`];
    for (const id of ids) await s.api.post('/v1/transactions', paySaga(id));
    for (const id of ids) await s.api.until(`/v1/transactions/${id}`, (t) => t.status === 'failed', 20_000);
    await s.healInventory();

    await page.getByRole('link', { name: 'Participants', exact: true }).click();
    const inventory = page.locator('[data-testid=participant-row][data-name=inventory]');
    // each instance is listed with its lease and circuit
    const instance = page.locator(
      '[data-testid=participant-instances][data-name=inventory] [data-testid=instance-row]',
    );
    await instance.first().waitFor();
    expect(await instance.first().getAttribute('data-status')).toBe('up');
    await inventory.getByTestId('failed-transactions-link').filter({ hasText: /^2$/ }).waitFor();
    await inventory.getByTestId('bulk-replay-button').click();
    const dryRun = page.getByTestId('bulk-dry-run-button');
    expect(await dryRun.isDisabled()).toBe(true); // the reason is required
    await page.getByTestId('bulk-reason-input').fill('inventory redeployed');
    await dryRun.click();
    expect(await page.getByTestId('bulk-matched').textContent()).toBe('2');
    for (const id of ids) await page.getByTestId('bulk-dry-run').getByText(id).waitFor();
    await page.getByTestId('bulk-confirm-button').click();
    await page.getByTestId('bulk-results').waitFor();
    expect(await page.locator('[data-testid=bulk-results] tr[data-outcome=replayed]').count()).toBe(2);
    await screenshot(page, 'bulk-replay');
    for (const id of ids) await s.api.until(`/v1/transactions/${id}`, (t) => t.status === 'aborted', 20_000);
  });
});
