import { parse } from 'pg-connection-string';
import { redactDatabaseUrl } from './redact-url';

describe('redactDatabaseUrl', () => {
  it.each([
    ['postgres://postgres:secret@127.0.0.1:5432/txc', 'postgres://postgres:***@127.0.0.1:5432/txc'],
    // pg reads the password up to the last @
    ['postgres://postgres:Pa@ssW0rd@127.0.0.1:5432/txc', 'postgres://postgres:***@127.0.0.1:5432/txc'],
    [
      'postgres://127.0.0.1:5432/txc?user=postgres&password=QSecret&sslmode=disable',
      'postgres://127.0.0.1:5432/txc?user=postgres&password=***&sslmode=disable',
    ],
    ['postgres://postgres@127.0.0.1:5432/txc', 'postgres://postgres@127.0.0.1:5432/txc'],
  ])('hides the password of %s', (raw, shown) => {
    expect(redactDatabaseUrl(raw)).toBe(shown);
    // what is hidden is the very password pg would send
    const { password } = parse(raw);
    if (password) expect(redactDatabaseUrl(raw)).not.toContain(password);
  });

  it('hides everything up to the last @ of what is not a URL', () => {
    expect(redactDatabaseUrl('postgres://u:p@ss@[bad')).toBe('postgres://***@[bad');
  });
});
