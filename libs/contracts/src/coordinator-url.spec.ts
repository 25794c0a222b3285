import { coordinatorBaseUrl } from './coordinator-url';

describe('coordinatorBaseUrl', () => {
  it.each([
    ['http://127.0.0.1:7070', 'http://127.0.0.1:7070'],
    ['http://127.0.0.1:7070/', 'http://127.0.0.1:7070'],
    ['http://127.0.0.1:7070/v1', 'http://127.0.0.1:7070'],
    ['https://txc.example.com/v1/', 'https://txc.example.com'],
    ['https://example.com/txc/v1', 'https://example.com/txc'],
    ['https://example.com/txc', 'https://example.com/txc'],
    ['http://example.com/v10', 'http://example.com/v10'],
  ])('reads %s as %s', (given, base) => {
    expect(coordinatorBaseUrl(given)).toBe(base);
  });

  it.each([
    '127.0.0.1:7070',
    'localhost',
    'ftp://example.com',
    'nats://127.0.0.1:4222',
    'http://h/?a=1',
    'http://h/#x',
    '',
  ])('refuses %j, naming the option', (given) => {
    expect(() => coordinatorBaseUrl(given, 'url')).toThrow(/^url must/);
  });
});
