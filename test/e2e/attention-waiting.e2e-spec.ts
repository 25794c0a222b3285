import { Phase } from '#contracts';
import { startTestStack, TestParticipant, until, type TestStack } from '#testing';

/**
 * `waiting` (a participant with no live instance) is the same wherever it is shown: on the
 * transaction's page, in the list and its `attention` filter, and in the stats. A participant is
 * down when none of its instances is live (each with its own lease), whatever the last one to
 * register said its lease was.
 */
describe('the waiting attention state, in the list and the stats as on the page', () => {
  let s: TestStack;
  const servers: TestParticipant[] = [];

  beforeAll(async () => {
    s = await startTestStack('attention_waiting', { env: { NO_INSTANCE_RETRY_MS: '300' } });
    for (let i = 0; i < 2; i++) servers.push(await TestParticipant.start());
  });
  afterAll(async () => {
    await Promise.all(servers.map((p) => p.close()));
    await s.close();
  });

  async function shown(id: string) {
    const page = (await s.api.get(`/v1/transactions/${id}`)).body.attention;
    const listed = (await s.api.get(`/v1/transactions?q=${id}`)).body.items[0].attention;
    const waiting = (await s.api.get('/v1/transactions?attention=waiting')).body.items.map((t: any) => t.id);
    return { page, listed, filtered: waiting.includes(id) };
  }

  it('a participant with one live instance is not waiting, though an instance registered later lapsed', async () => {
    const register = (instanceId: string, url: string, ttlSeconds: number) =>
      s.api.post('/v1/participants', { name: 'two-leases', url, instanceId, ttlSeconds });
    expect((await register('long', servers[0].url, 3600)).status).toBeLessThan(300);
    expect((await register('short', servers[1].url, 1)).status).toBeLessThan(300);
    const id = 'retrying-with-a-live-instance';
    for (const p of servers) p.fault({ transactionId: id, phase: Phase.Action, status: 500, times: 1 });
    await until(
      async () =>
        (await s.api.get('/v1/participants/two-leases')).body.instances.some((i: any) => i.status === 'expired'),
      10_000,
      'the short lease to lapse',
    );
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      timeoutMs: 600_000,
      retry: { maxAttempts: 5, initialBackoffMs: 600_000, maxBackoffMs: 600_000 },
      branches: [{ id: 'a', participant: 'two-leases' }],
    });
    expect(started.status).toBe(201);
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.attention === 'retrying');
    expect(await shown(id)).toMatchObject({ page: 'retrying', listed: 'retrying', filtered: false });
    await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'done' });
  });

  it('a participant whose only instance left is waiting, in the list, the filter and the stats too', async () => {
    expect(
      (await s.api.post('/v1/participants', { name: 'left', url: servers[0].url, instanceId: 'only' })).status,
    ).toBeLessThan(300);
    expect((await s.api.delete('/v1/participants/left/instances/only')).status).toBe(200);
    const id = 'waiting-for-a-left-participant';
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      timeoutMs: 600_000,
      branches: [{ id: 'a', participant: 'left' }],
    });
    expect(started.status).toBe(201);
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.attention === 'waiting');
    expect(await shown(id)).toMatchObject({ page: 'waiting', listed: 'waiting', filtered: true });
    // the overview is read at most every 2 s
    await s.api.until('/v1/stats?window=15m', (v: any) => v.attention.waiting === 1);
    await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'done' });
  });
});
