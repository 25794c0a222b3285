import { loadConfig } from './config';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 7070, REDIS_PREFIX: 'txc', ROLE: 'all' });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
  });

  it('names every bad variable and its rule', () => {
    expect(() => loadConfig({ PORT: 'abc', ROLE: 'boss', REDIS_URL: 'http://x' })).toThrow(
      /PORT: .*\n.*REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL\n.*ROLE/s,
    );
  });

  it('refuses an instance TTL shorter than two sweeps', () => {
    expect(() => loadConfig({ SWEEP_INTERVAL_MS: '5000', INSTANCE_TTL_MS: '9000' })).toThrow(
      /INSTANCE_TTL_MS: must be at least twice SWEEP_INTERVAL_MS/,
    );
    expect(loadConfig({ SWEEP_INTERVAL_MS: '5000', INSTANCE_TTL_MS: '10000' }).INSTANCE_TTL_MS).toBe(10000);
  });
});
