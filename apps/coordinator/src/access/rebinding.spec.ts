import { isRebindablePage } from './rebinding';

const page = (host: string) => ({ host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' });

describe('isRebindablePage', () => {
  it('refuses a browser at a name anyone could point here', () => {
    for (const host of ['rebind.attacker.example:7070', 'attacker.example', 'localhost.attacker.example', 'x'])
      expect([host, isRebindablePage(page(host), '127.0.0.1')]).toEqual([host, true]);
  });

  it('serves a browser at an address, at localhost or at the name the coordinator listens on', () => {
    for (const host of ['127.0.0.1:7070', '[::1]:7070', '10.0.0.5', 'localhost:7070', 'app.localhost', 'LOCALHOST.'])
      expect([host, isRebindablePage(page(host), '127.0.0.1')]).toEqual([host, false]);
    expect(isRebindablePage(page('txc.internal:7070'), 'txc.internal')).toBe(false);
  });

  it('tells a same-origin GET of a page on plain http by its User-Agent or Referer', () => {
    const agent = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';
    expect(isRebindablePage({ host: 'evil.test:7301', 'user-agent': agent }, '127.0.0.1')).toBe(true);
    expect(isRebindablePage({ host: 'evil.test:7301', referer: 'http://evil.test:7301/' }, '127.0.0.1')).toBe(true);
    expect(isRebindablePage({ host: 'evil.test:7301', 'user-agent': 'curl/8.5.0' }, '127.0.0.1')).toBe(false);
    expect(isRebindablePage({ host: '127.0.0.1:7301', 'user-agent': agent }, '127.0.0.1')).toBe(false);
  });

  it('serves whatever sends no browser header, whatever its Host', () => {
    expect(isRebindablePage({ host: 'attacker.example' }, '127.0.0.1')).toBe(false);
    // fetch in Node (the SDKs, the CLI) sends Sec-Fetch-Mode, and a User-Agent of its own
    expect(isRebindablePage({ host: 'txc:7070', 'sec-fetch-mode': 'cors', 'user-agent': 'node' }, '127.0.0.1')).toBe(
      false,
    );
    expect(isRebindablePage({ host: 'attacker.example', 'sec-fetch-site': 'same-origin' }, '127.0.0.1')).toBe(true);
  });
});
