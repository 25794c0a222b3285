import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { TcpProxy } from '#testing';
import { launchChromium, markDocument, newPage, stillSameDocument } from './support/browser';
import { paySaga, startDashboardStack, type DashboardStack } from './support/dashboard-stack';

/**
 * The list's live stream across a dropped connection: the browser reaches the coordinator through a
 * TCP proxy that is cut and held; the dashboard reconnects with `Last-Event-ID` and shows what
 * happened meanwhile, without a reload.
 */
describe('dashboard live stream', () => {
  let s: DashboardStack;
  let proxy: TcpProxy;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  const streamRequests: { lastEventId: string | undefined }[] = [];
  const tag = randomBytes(4).toString('hex');

  beforeAll(async () => {
    s = await startDashboardStack('dash_live');
    const { hostname, port } = new URL(s.origin);
    proxy = await TcpProxy.start({ host: hostname, port: Number(port) });
    browser = await launchChromium();
    ({ page, problems } = await newPage(browser, `http://127.0.0.1:${proxy.port}`));
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/stream')
        streamRequests.push({ lastEventId: request.headers()['last-event-id'] });
    });
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await s?.close();
  });
  afterEach(() => {
    if (problems.length > 0) console.log(`browser said:\n  ${problems.join('\n  ')}`);
    problems.length = 0;
  });

  const committedRow = (id: string) =>
    page.locator(`[data-testid=transaction-row][data-id="${id}"][data-status=committed]`);

  it('reconnects after a drop with the last event id and shows the changes made meanwhile', async () => {
    await page.goto('/transactions');
    await page.getByTestId('api-key-input').fill(s.keys.viewer);
    await page.getByTestId('sign-in-button').click();
    await page.locator('[data-testid=stream-state][data-state=live]').waitFor();
    await markDocument(page);

    const before = `before-${tag}`;
    await s.api.post('/v1/transactions?wait=10000', paySaga(before));
    await committedRow(before).waitFor();

    // the connection drops and the network holds every new one: the dashboard says it is not live
    proxy.pause();
    proxy.cutAll();
    await page.locator('[data-testid=stream-state]:not([data-state=live])').waitFor();
    const during = `during-${tag}`;
    expect((await s.api.post('/v1/transactions?wait=10000', paySaga(during))).body.status).toBe('committed');

    proxy.resume();
    await page.locator('[data-testid=stream-state][data-state=live]').waitFor();
    await committedRow(during).waitFor();
    expect(await stillSameDocument(page)).toBe(true);
    const resumed = streamRequests.slice(1);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((r) => r.lastEventId && /^\d+\.[0-9a-f]+\.\d+$/.test(r.lastEventId))).toBe(true);
  });

  it('fetches a list that failed to load again until it loads, and says how old the rows shown are', async () => {
    await page.goto('/transactions');
    if (await page.getByTestId('api-key-input').isVisible()) {
      await page.getByTestId('api-key-input').fill(s.keys.viewer);
      await page.getByTestId('sign-in-button').click();
    }
    await page.locator('[data-testid=stream-state][data-state=live]').waitFor();
    const first = `first-${tag}`;
    await s.api.post('/v1/transactions?wait=10000', paySaga(first));
    await committedRow(first).waitFor();
    await markDocument(page);

    // the list answers 503 (a coordinator whose database is away) while the stream stays up
    const isList = (url: URL) => url.pathname === '/v1/transactions';
    await page.route(isList, (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/problem+json',
        body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'log away' }),
      }),
    );
    const meanwhile = `meanwhile-${tag}`;
    expect((await s.api.post('/v1/transactions?wait=10000', paySaga(meanwhile))).body.status).toBe('committed');
    await page.getByTestId('problem').waitFor();
    await page.getByTestId('shown-since').waitFor();
    await committedRow(first).waitFor();

    // the database is back; nothing happens on the stream, so only fetching again shows it
    await page.unroute(isList);
    await committedRow(meanwhile).waitFor({ timeout: 20_000 });
    await page.getByTestId('problem').waitFor({ state: 'detached' });
    expect(await stillSameDocument(page)).toBe(true);
  });
});
