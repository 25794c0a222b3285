import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TcpProxy,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  sagaBody,
  type FreshDatabase,
} from '#testing';
import { assertDashboardServed } from './support/dashboard-origin';
import { launchChromium, markDocument, newPage, screenshot, stillSameDocument } from './support/browser';

/**
 * The coordinator loses its database while the dashboard shows a list with nothing in flight. That
 * page makes no request of its own then, and the live stream stays open (it only goes quiet), so the
 * page used to look like a quiet system for as long as the outage lasted. It now says the database
 * cannot be reached, and stops saying so once it answers again, without a reload.
 */
describe('dashboard during a database outage', () => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let participant: TestParticipant;
  let coordinator: CoordinatorProcess;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    db = await freshDatabase('dash_outage');
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    participant = await TestParticipant.start();
    coordinator = new CoordinatorProcess({
      databaseUrl: proxy.through(db.url),
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix('dash_outage'),
      env: { LOG_LEVEL: 'error', DB_QUERY_TIMEOUT_MS: '3000' },
    });
    const url = await coordinator.start();
    await assertDashboardServed(url);
    browser = await launchChromium();
    ({ page, problems } = await newPage(browser, url));
  });
  afterAll(async () => {
    await browser?.close();
    await coordinator?.stop();
    await proxy?.close();
    await participant?.close();
    await db?.drop();
  });
  afterEach(() => {
    if (problems.length > 0) console.log(`browser said:\n  ${problems.join('\n  ')}`);
    problems.length = 0;
  });

  it('says the database cannot be reached while it is away, and stops once it is back', async () => {
    const api = apiClient(coordinator.url);
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const id = `before-${randomBytes(4).toString('hex')}`;
    expect((await api.post('/v1/transactions?wait=10000', sagaBody(['a'], { id }))).body.status).toBe('committed');

    await page.goto('/transactions');
    const row = page.locator(`[data-testid=transaction-row][data-id="${id}"][data-status=committed]`);
    await row.waitFor();
    await markDocument(page);
    expect(await page.getByTestId('health-banner').count()).toBe(0);

    proxy.down(); // every connection to Postgres cut, every new one refused
    const banner = page.locator('[data-testid=health-banner][data-down=postgres]');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('cannot reach its database (Postgres)');
    expect(await row.count()).toBe(1); // what was shown stays, under the banner
    await screenshot(page, 'database-outage');

    proxy.up();
    await banner.waitFor({ state: 'detached' });
    expect(await stillSameDocument(page)).toBe(true);
  });
});
