import { redactDatabaseUrl } from './redact-url';

describe('redactDatabaseUrl', () => {
  it.each([
    ['postgres://postgres:secret@127.0.0.1:5432/txc', 'postgres://postgres:***@127.0.0.1:5432/txc', 'secret'],
    // pg reads the password up to the last @
    ['postgres://postgres:Pa@ssW0rd@127.0.0.1:5432/txc', 'postgres://postgres:***@127.0.0.1:5432/txc', 'ssW0rd'],
    [
      'postgres://127.0.0.1:5432/txc?user=postgres&password=QSecret&sslmode=disable',
      'postgres://127.0.0.1:5432/txc?user=postgres&password=***&sslmode=disable',
      'QSecret',
    ],
    ['postgres://postgres@127.0.0.1:5432/txc', 'postgres://postgres@127.0.0.1:5432/txc', null],
  ])('hides the password of %s', (raw, shown, secret) => {
    expect(redactDatabaseUrl(raw)).toBe(shown);
    if (secret) expect(redactDatabaseUrl(raw)).not.toContain(secret);
  });

  it('hides everything up to the last @ of what is not a URL', () => {
    expect(redactDatabaseUrl('postgres://u:p@ss@[bad')).toBe('postgres://***@[bad');
  });
});
