import { Client } from 'pg';
import { TEST_PG_ADMIN_URL, sagaBody, startTestStack, type TestStack } from '#testing';

/**
 * The log's database closed to connections for a while (`ALTER DATABASE ... ALLOW_CONNECTIONS
 * false`, as maintenance does): requests that need it answer 503 `store_unavailable`, which a
 * client retries, not 500; once it opens again everything works, nothing restarted.
 */
describe('the log database closed to connections', () => {
  let s: TestStack;
  let admin: Client;
  beforeAll(async () => {
    s = await startTestStack('db_closed');
    admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.query(`ALTER DATABASE "${s.db.name}" ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    await s?.close();
  });

  it('answers 503 store_unavailable while it is closed, and works again once it opens', async () => {
    expect((await s.api.post('/v1/transactions?wait=10000', sagaBody(['a']))).body.status).toBe('committed');
    await admin.query(`ALTER DATABASE "${s.db.name}" ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [s.db.name]);

    const closed = await s.api.get('/v1/transactions');
    expect([closed.status, closed.body.type]).toEqual([503, '/problems/store_unavailable']);
    expect(closed.headers.get('content-type')).toMatch(/application\/problem\+json/);

    await admin.query(`ALTER DATABASE "${s.db.name}" ALLOW_CONNECTIONS true`);
    await s.api.until('/v1/transactions', (page: any) => Array.isArray(page.items), 20_000);
    expect((await s.api.post('/v1/transactions?wait=10000', sagaBody(['a']))).body.status).toBe('committed');
  });
});
