import { registerParticipantSchema } from './participant-request.schema';

describe('registerParticipantSchema: a redis participant URL', () => {
  const issues = (url: string) =>
    (registerParticipantSchema.safeParse({ name: 'p', url, transport: 'redis' }).error?.issues ?? []).map((i) => [
      i.path.join('.'),
      i.message,
    ]);

  it('takes no path, or a database number', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://127.0.0.1:6379/3']) {
      expect([url, issues(url)]).toEqual([url, []]);
    }
  });

  it('refuses any other path, naming url', () => {
    for (const url of ['redis://127.0.0.1:6379/abc', 'redis://127.0.0.1:6379/1/2']) {
      expect([url, issues(url)]).toEqual([
        url,
        [['url', 'the path of a redis URL is a database number (/0, /1, ...)']],
      ]);
    }
  });
});

describe('registerParticipantSchema: a URL over the length limit', () => {
  it('names the length rule (docs/limits.md), not the URL form', () => {
    const base = 'http://127.0.0.1:7000/';
    const at = (n: number) => base + 'a'.repeat(n - base.length);
    expect(registerParticipantSchema.safeParse({ name: 'p', url: at(2048) }).success).toBe(true);
    const issues = registerParticipantSchema.safeParse({ name: 'p', url: at(2049) }).error?.issues ?? [];
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([['url', 'must be at most 2048 characters']]);
  });
});

describe('registerParticipantSchema: the limits a participant shows as null', () => {
  const base = { name: 'p', url: 'http://127.0.0.1:7000' };

  it('takes null for none, as GET /v1/participants shows it, so a registration read back can be sent again', () => {
    const parsed = registerParticipantSchema.parse({
      ...base,
      ttlSeconds: null,
      maxConcurrency: null,
      ratePerSecond: null,
    });
    expect([parsed.ttlSeconds, parsed.maxConcurrency, parsed.ratePerSecond]).toEqual([null, null, null]);
  });

  it('still refuses zero, naming the field', () => {
    for (const field of ['ttlSeconds', 'maxConcurrency', 'ratePerSecond']) {
      const issues = registerParticipantSchema.safeParse({ ...base, [field]: 0 }).error?.issues ?? [];
      expect(issues.map((i) => i.path.join('.'))).toEqual([field]);
    }
  });
});

describe('registerParticipantSchema: a secret', () => {
  const issues = (secret: string) =>
    (registerParticipantSchema.safeParse({ name: 'p', url: 'http://127.0.0.1:1', secret }).error?.issues ?? []).map(
      (i) => [i.path.join('.'), i.message],
    );

  it('is 16-256 characters that the log can store', () => {
    expect(issues('s'.repeat(16))).toEqual([]);
    expect(issues('s'.repeat(256))).toEqual([]);
    expect(issues('short')).toEqual([['secret', 'must be at least 16 characters']]);
    expect(issues('s'.repeat(257))).toMatchObject([['secret', expect.stringMatching(/256/)]]);
    expect(issues(`${'s'.repeat(16)}\u0000`)).toMatchObject([['secret', expect.stringMatching(/NUL|U\+0000/i)]]);
  });
});
