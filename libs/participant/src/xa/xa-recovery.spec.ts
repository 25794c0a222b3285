import { coordinatorDecisions } from './xa-recovery';

describe('coordinatorDecisions', () => {
  // a coordinator that took the connection and never answered held the start ~5 min per prepared gid
  it('gives up on a question after its timeout, naming the transaction and why', async () => {
    const silent: typeof fetch = (_url, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    const ask = coordinatorDecisions('http://127.0.0.1:9', { fetch: silent, timeoutMs: 200 });
    await expect(ask('t-1')).rejects.toThrow(/transaction t-1's decision failed: no answer within 200 ms/);
  });

  it('reads a decision, and no decision from a 404', async () => {
    const answers: Record<string, Response> = {
      '/v1/transactions/c': Response.json({ decision: 'commit' }),
      '/v1/transactions/u': new Response(null, { status: 404 }),
    };
    const fake: typeof fetch = async (url) => answers[new URL(String(url)).pathname];
    const ask = coordinatorDecisions('http://127.0.0.1:9/v1', { fetch: fake });
    expect(await ask('c')).toBe('commit');
    expect(await ask('u')).toBeUndefined();
  });
});
