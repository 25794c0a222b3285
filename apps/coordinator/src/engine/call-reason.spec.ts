import { reasonOf } from './call-reason';

describe('reasonOf', () => {
  it.each([
    [
      409,
      { type: '/problems/x', title: 'Conflict', detail: 'insufficient funds on A' },
      'HTTP 409: insufficient funds on A',
    ],
    [409, { error: 'out of stock' }, 'HTTP 409: out of stock'],
    [422, { error: { message: 'sku unknown' } }, 'HTTP 422: sku unknown'],
    [500, { text: 'boom' }, 'HTTP 500: boom'],
    [503, null, 'HTTP 503'],
    [409, { fault: true }, 'HTTP 409'],
    [409, { detail: 'nul \u0000 here' }, 'HTTP 409: nul \ufffd here'],
  ])('HTTP %s %j → %s', (status, body, expected) => {
    expect(reasonOf(status, body)).toBe(expected);
  });

  it('is null for a yes, and bounded for a long reason', () => {
    expect(reasonOf(200, { detail: 'fine' })).toBeNull();
    expect(reasonOf(null, null)).toBeNull();
    expect(reasonOf(409, { detail: 'x'.repeat(10_000) })!.length).toBe(500);
  });
});
