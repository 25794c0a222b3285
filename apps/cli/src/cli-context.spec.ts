import { Command } from 'commander';
import { UsageError, cliContext, coordinatorUrl } from './cli-context';

describe('coordinatorUrl', () => {
  it('takes an http(s) URL of the coordinator', () => {
    expect(coordinatorUrl('http://127.0.0.1:7070')).toBe('http://127.0.0.1:7070');
    expect(coordinatorUrl('https://txc.example.com/base/')).toBe('https://txc.example.com/base/');
  });

  it.each([
    ['foo', /http\(s\) URL/],
    ['ftp://host:7070', /http or https/],
    ['http://127.0.0.1:7070/v1', /without \/v1/],
    ['http://127.0.0.1:7070/v1/', /without \/v1/],
  ])('refuses %s as a usage error (exit 2)', (text, message) => {
    expect(() => coordinatorUrl(text)).toThrow(UsageError);
    expect(() => coordinatorUrl(text)).toThrow(message);
  });
});

describe('cliContext', () => {
  it('refuses an API key no header can carry as a usage error (exit 2) when the client is used, without printing the key', () => {
    const command = new Command().option('--url <url>').option('--api-key <key>');
    command.parse(['--url', 'http://127.0.0.1:7070', '--api-key', 'txc_topsecret\r\nnext'], { from: 'user' });
    // a command that calls no API never looks at the key
    const ctx = cliContext(command);
    expect(() => ctx.client).toThrow(UsageError);
    expect(() => ctx.client).toThrow(/--api-key \(or TXC_API_KEY\).*header cannot carry/);
    expect(() => ctx.client).not.toThrow(/topsecret/);
  });
});
