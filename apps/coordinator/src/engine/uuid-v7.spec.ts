import { uuidV7 } from './uuid-v7';

describe('uuidV7', () => {
  it('is a version-7, variant-1 UUID led by the time in ms', () => {
    const id = uuidV7(0x0123456789ab);
    expect(id).toMatch(/^01234567-89ab-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('never repeats, across many refills of its randomness', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5_000; i++) ids.add(uuidV7(1_700_000_000_000));
    expect(ids.size).toBe(5_000);
  });

  it('sorts by time', () => {
    expect(uuidV7(1_700_000_000_001) > uuidV7(1_700_000_000_000)).toBe(true);
  });
});
