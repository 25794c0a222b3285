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

  it('serves whatever sends no browser header, whatever its Host', () => {
    expect(isRebindablePage({ host: 'attacker.example' }, '127.0.0.1')).toBe(false);
    expect(isRebindablePage({ host: 'attacker.example', 'sec-fetch-mode': 'cors' }, '127.0.0.1')).toBe(true);
  });
});
