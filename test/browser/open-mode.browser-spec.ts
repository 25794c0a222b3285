import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newPage } from './support/browser';
import { paySaga, startDashboardStack, type DashboardStack } from './support/dashboard-stack';

/** A coordinator with no key configured: no sign-in, a warning on every page, until a first key is made. */
describe('dashboard in open mode', () => {
  let s: DashboardStack;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    s = await startDashboardStack('dash_open', { open: true });
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

  it('asks for no key and warns on every page that anyone can do anything', async () => {
    const id = `open-${randomBytes(4).toString('hex')}`;
    expect((await s.api.post('/v1/transactions?wait=10000', paySaga(id))).body.status).toBe('committed');

    await page.goto('/');
    await page.getByTestId('overview-page').waitFor();
    expect(await page.getByTestId('sign-in-form').count()).toBe(0);
    expect(await page.getByTestId('sign-out').count()).toBe(0);
    expect(await page.getByTestId('identity').textContent()).toContain('open mode');
    const warning = 'Open mode: no API keys configured, anyone can do anything';
    expect(await page.getByTestId('open-mode-banner').textContent()).toBe(warning);

    for (const [link, pageId] of [
      ['Transactions', 'transactions-page'],
      ['Participants', 'participants-page'],
      ['Keys', 'keys-page'],
    ]) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByTestId(pageId).waitFor();
      expect(await page.getByTestId('open-mode-banner').textContent()).toBe(warning);
    }
    await page.goto(`/transactions/${id}`);
    await page.getByTestId('transaction-header').waitFor();
    expect(await page.getByTestId('open-mode-banner').textContent()).toBe(warning);
  });

  // a page on another port of the same host is same-site: its frame of the dashboard sent same-origin
  // requests, which the Origin check lets through, so a tricked click there created keys or replayed
  it('cannot be framed by a page of another origin, even on the same site', async () => {
    const evil = createServer((_request, response) =>
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<iframe id="framed" src="${s.origin}/keys"></iframe>`),
    );
    await new Promise<void>((ready) => evil.listen(0, '127.0.0.1', ready));
    const other = await newPage(browser, `http://127.0.0.1:${(evil.address() as AddressInfo).port}`);
    try {
      await other.page.goto('/');
      const frame = await (await other.page.waitForSelector('#framed')).contentFrame();
      await frame!.waitForLoadState('load');
      expect(frame!.url()).not.toContain(s.origin); // the browser refused to show it: an error page
      expect(await frame!.getByTestId('keys-page').count()).toBe(0);
    } finally {
      await other.page.context().close();
      await new Promise((closed) => evil.close(closed));
    }
  });

  it('shows a new key’s secret once; the first key ends open mode, and the dashboard then needs a key', async () => {
    await page.getByRole('link', { name: 'Keys', exact: true }).click();
    await page.getByTestId('ends-open-mode-warning').waitFor();
    await page.getByTestId('key-name-input').fill('first-admin');
    await page.getByTestId('key-role-select').selectOption('admin');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-key-secret').textContent())?.trim() ?? '';
    expect(secret.length).toBeGreaterThanOrEqual(16);
    // the page no longer claims open mode: it says it ended, the secret still shown
    await page.getByTestId('open-mode-ended-banner').waitFor();
    expect(await page.getByTestId('open-mode-banner').count()).toBe(0);
    expect(await page.getByTestId('ends-open-mode-warning').count()).toBe(0);
    expect(await page.getByTestId('identity').textContent()).toBe('anonymous (open mode ended)');

    await page.getByTestId('sign-in-with-new-key').click();
    await page.getByTestId('identity').filter({ hasText: 'first-admin' }).waitFor();
    expect(await page.getByTestId('open-mode-banner').count()).toBe(0);
    // the page it stays on reads the keys again with the new key, and offers the sign-in no more
    await page.locator('[data-testid=key-row][data-name=first-admin]').waitFor();
    expect(await page.getByTestId('sign-in-with-new-key').count()).toBe(0);
    await page.getByRole('link', { name: 'Keys', exact: true }).click();
    await page.locator('[data-testid=key-row][data-name=first-admin]').waitFor();

    // another tab, without the key, is asked for one
    const other = await newPage(browser, s.origin);
    try {
      await other.page.goto('/participants');
      await other.page.getByTestId('sign-in-form').waitFor();
      await other.page.getByTestId('api-key-input').fill(secret);
      await other.page.getByTestId('sign-in-button').click();
      await other.page.getByTestId('participants-page').waitFor();
      await other.page.locator('[data-testid=participant-row][data-name=inventory]').waitFor();
    } finally {
      await other.page.context().close();
    }
  });
});

describe('dashboard in open mode, reached by a name an attacker could point at it', () => {
  let s: DashboardStack;
  let browser: Browser;

  beforeAll(async () => {
    s = await startDashboardStack('dash_rebind', { open: true });
    // the attacker's name resolves to this machine, as after a DNS rebinding
    browser = await launchChromium(['--host-resolver-rules=MAP rebind.test 127.0.0.1']);
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('answers the page none of its data: reads and writes are 403, at its own origin as the browser sees it', async () => {
    const id = `rebind-${randomBytes(4).toString('hex')}`;
    expect((await s.api.post('/v1/transactions?wait=10000', paySaga(id))).body.status).toBe('committed');
    const port = new URL(s.origin).port;
    const { page } = await newPage(browser, `http://rebind.test:${port}`);
    await page.goto('/health/live');
    const statuses = await page.evaluate(async (txn) => {
      const read = await fetch(`/v1/transactions/${txn}`);
      const list = await fetch('/v1/transactions');
      const write = await fetch('/v1/keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'evil', role: 'admin' }),
      });
      return [read.status, list.status, write.status];
    }, id);
    expect(statuses).toEqual([403, 403, 403]);
    expect((await s.api.get('/v1/me')).body.open).toBe(true);
    // the dashboard there says why it cannot be used, not only that it wants a key nobody has yet
    await page.goto('/');
    await page.getByTestId('sign-in-form').waitFor();
    expect(await page.getByTestId('sign-in-problem').textContent()).toMatch(/open mode serves browsers only at/);
    await page.context().close();
  });
});
