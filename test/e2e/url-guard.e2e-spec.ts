import { Client } from 'pg';
import { startTestStack, type TestStack } from '#testing';

/**
 * The participant URL guard (docs/participant-url-guard.md) through a running coordinator: every
 * unsafe spelling is answered 422 problem+json naming `url` and writes nothing; a safe URL is
 * stored normalised; an address that slipped into the registry is still refused at connect time.
 */
describe('participant URL guard', () => {
  let s: TestStack;
  let pg: Client;
  beforeAll(async () => {
    s = await startTestStack('urlguard');
    pg = new Client({ connectionString: s.db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg.end();
    await s.close();
  });

  const participantRows = async () => Number((await pg.query('SELECT count(*) AS n FROM txc_participants')).rows[0].n);

  it.each([
    ['decimal IPv4', 'http://2852039166/'],
    ['octal IPv4', 'http://0251.0376.0251.0376/'],
    ['hex IPv4', 'http://0xa9fea9fe/'],
    ['IPv4-mapped IPv6, dotted', 'http://[::ffff:169.254.169.254]/'],
    ['IPv4-mapped IPv6, hex', 'http://[::ffff:a9fe:a9fe]/'],
    ['IPv4-compatible IPv6', 'http://[::169.254.169.254]/'],
    ['NAT64', 'http://[64:ff9b::169.254.169.254]/'],
    ['local-use NAT64', 'http://[64:ff9b:1::a9fe:a9fe]/'],
    ['6to4', 'http://[2002:a9fe:a9fe::]/'],
    ['Teredo', 'http://[2001:0:a9fe:a9fe::1]/'],
    ['the unspecified IPv6 address', 'http://[::]:7070/'],
    ['the unspecified IPv4 address', 'http://0.0.0.0:7070/'],
    ['link-local IPv6', 'http://[fe80::1]/'],
    ['a metadata host name with a trailing dot', 'http://metadata.google.internal./'],
    ['credentials', 'http://user:pw@127.0.0.1/'],
    ['an empty userinfo', 'http://@127.0.0.1/'],
    ['a backslash before @', 'http://127.0.0.1\\@169.254.169.254/'],
    ['a percent-encoded host', 'http://%6c%6f%63%61%6c%68%6f%73%74/'],
    ['a percent-encoded metadata address', 'http://169%2e254%2e169%2e254/'],
    ['full-width letters', 'http://ｌｏｃａｌｈｏｓｔ/'],
    ['an empty fragment', 'http://127.0.0.1/#'],
    ['a tab', 'http://127.0.0.1/\t'],
    ['three slashes', 'http:///127.0.0.1/'],
  ])('refuses %s (%j) with 422 naming url, writing nothing', async (what, url) => {
    const name = `evil-${what.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
    const before = await participantRows();
    const r = await s.api.post('/v1/participants', { name, url });
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 422, detail: expect.any(String) });
    expect(r.body.errors).toEqual([{ field: 'url', rule: expect.any(String) }]);
    expect(await participantRows()).toBe(before);
    expect((await s.api.get(`/v1/participants/${name}`)).status).toBe(404);
  });

  it('stores the normalised URL and calls it', async () => {
    const port = new URL(s.participant.url).port;
    const r = await s.api.post('/v1/participants', { name: 'spelled', url: `HTTP://0x7f.1:${port}/a/..` });
    expect(r.status).toBe(201);
    expect(r.body.url).toBe(`http://127.0.0.1:${port}/`);
    const stored = await pg.query('SELECT url FROM txc_participants WHERE name = $1', ['spelled']);
    expect(stored.rows[0].url).toBe(`http://127.0.0.1:${port}/`);
    const t = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [{ id: 'a', participant: 'spelled' }],
    });
    expect(t.body.status).toBe('committed');
  });

  it('refuses at connect time an address already in the registry: outcome unknown, reason shown, no crash', async () => {
    // a row written before this guard existed (or under a wider PARTICIPANT_URL_ALLOWLIST)
    await pg.query(
      `INSERT INTO txc_participants (name, url, transport) VALUES ('legacy', 'http://[::a9fe:a9fe]:9/', 'http')`,
    );
    // the address the coordinator calls is its instance's
    await pg.query(
      `INSERT INTO txc_participant_instances (participant, instance_id, url, transport)
         VALUES ('legacy', 'http://[::a9fe:a9fe]:9/', 'http://[::a9fe:a9fe]:9/', 'http')`,
    );
    const t = await s.api.post('/v1/transactions', {
      protocol: 'saga',
      retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
      branches: [{ id: 'a', participant: 'legacy' }],
    });
    expect(t.status).toBe(201);
    const view = await s.api.until(`/v1/transactions/${t.body.id}`, (v: any) =>
      v.attempts.some((a: any) => a.finishedAt !== null),
    );
    expect(view.attempts[0]).toMatchObject({
      outcome: 'unknown',
      httpStatus: null,
      error:
        'connection refused by the participant URL guard: address ::a9fe:a9fe carries 169.254.169.254 (IPv4-compatible), which is link-local',
    });
    expect((await s.api.get('/v1/participants/legacy')).body.lastError).toMatch(/participant URL guard/);
    expect((await s.api.get('/health/live')).status).toBe(200);
  });
});
