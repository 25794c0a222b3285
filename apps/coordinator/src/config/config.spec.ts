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

  it('takes CRASH_AT only as a named point with an optional pass count', () => {
    expect(loadConfig({ CRASH_AT: 'after-call:3' }).CRASH_AT).toBe('after-call:3');
    expect(loadConfig({ CRASH_AT: 'after-decision' }).CRASH_AT).toBe('after-decision');
    for (const bad of ['bogus', 'after-call:abc', 'after-call:0'])
      expect(() => loadConfig({ CRASH_AT: bad })).toThrow(/CRASH_AT: must be point\[:n\]/);
  });

  it('refuses an instance TTL shorter than two sweeps', () => {
    expect(() => loadConfig({ SWEEP_INTERVAL_MS: '5000', INSTANCE_TTL_MS: '9000' })).toThrow(
      /INSTANCE_TTL_MS: must be at least twice SWEEP_INTERVAL_MS/,
    );
    expect(loadConfig({ SWEEP_INTERVAL_MS: '5000', INSTANCE_TTL_MS: '10000' }).INSTANCE_TTL_MS).toBe(10000);
    // a bad value of one is named alone: the other, unset or fine, is not compared with it
    for (const env of [{ SWEEP_INTERVAL_MS: '2000x' }, { INSTANCE_TTL_MS: 'soon' }]) {
      const lines = (() => {
        try {
          loadConfig(env);
          return [];
        } catch (error) {
          return (error as Error).message.split('\n').slice(1);
        }
      })();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^  ${Object.keys(env)[0]}: must be a decimal integer from \\d+ to \\d+$`));
    }
  });

  it('takes numbers in decimal digits only', () => {
    expect(loadConfig({ PORT: ' 8080 ' }).PORT).toBe(8080);
    for (const bad of ['0x50', '1e3', '-1', '80.5']) {
      expect(() => loadConfig({ PORT: bad })).toThrow(/PORT: must be a decimal integer/);
    }
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT: must be from 0 to 65535/);
  });

  it('checks every entry of PARTICIPANT_URL_ALLOWLIST at start', () => {
    const ok = 'svc.internal, 10.0.0.0/8, 127.0.0.1, [fd00::]/8, fd00::1, my_service';
    expect(loadConfig({ PARTICIPANT_URL_ALLOWLIST: ok }).PARTICIPANT_URL_ALLOWLIST).toBe(ok);
    expect(() => loadConfig({ PARTICIPANT_URL_ALLOWLIST: '10.0.0.0/99,10.0.0.0/abc,not a host!!,host/8' })).toThrow(
      /"10.0.0.0\/99": the prefix length must be 0-32\n.*"10.0.0.0\/abc": the prefix length.*\n.*"not a host!!" is not a host name.*\n.*"host\/8": a CIDR block/s,
    );
  });

  it.each([
    ['300.1.1.1', /"300.1.1.1" is not a host name/],
    ['1.2.3.4.5', /"1.2.3.4.5" is not a host name/],
    ['10.1', /"10.1" is read by a URL as 10.0.0.1/],
    ['0x7f.1', /"0x7f.1" is read by a URL as 127.0.0.1/],
  ])('refuses the allow-list entry %s, which no participant URL could match', (raw, problem) => {
    expect(() => loadConfig({ PARTICIPANT_URL_ALLOWLIST: raw })).toThrow(problem);
  });

  it.each(['', ' ', '  ,  '])(
    'refuses an API_KEYS of %j: set, it names no key, and would leave the coordinator open',
    (raw) => {
      expect(() => loadConfig({ API_KEYS: raw })).toThrow(/API_KEYS: names no key/);
    },
  );

  it.each(['', ' ', ',', ' , '])(
    'refuses a PARTICIPANT_URL_ALLOWLIST of %j: it names nothing, and would allow every host',
    (raw) => {
      expect(() => loadConfig({ PARTICIPANT_URL_ALLOWLIST: raw })).toThrow(/PARTICIPANT_URL_ALLOWLIST: names no host/);
    },
  );

  it('checks the OpenTelemetry variables the tracing set-up reads', () => {
    expect(() => loadConfig({ OTEL_BSP_SCHEDULE_DELAY: 'abc', OTEL_EXPORTER_OTLP_ENDPOINT: 'notaurl' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http.*\n.*OTEL_BSP_SCHEDULE_DELAY: /s,
    );
    expect(
      loadConfig({ OTEL_BSP_SCHEDULE_DELAY: '500', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }),
    ).toMatchObject({ OTEL_BSP_SCHEDULE_DELAY: 500 });
  });

  it('refuses an ALERT_WEBHOOK_URL that no delivery could use', () => {
    for (const bad of ['http://exa mple.com/x', 'http://', 'https://:80/x', 'ftp://example.com']) {
      expect(() => loadConfig({ ALERT_WEBHOOK_URL: bad })).toThrow(/ALERT_WEBHOOK_URL: must be an http/);
    }
    expect(loadConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.com/txc?x=1' }).ALERT_WEBHOOK_URL).toBe(
      'https://hooks.example.com/txc?x=1',
    );
  });
});
