import { Limits } from '#contracts';
import { ParticipantUrlGuard, forbiddenAddress, normaliseParticipantUrl, type Resolver } from './url-safety';

/** A resolver with fixed answers, so no test depends on the machine's DNS. */
const fixed =
  (answers: Record<string, string[]>): Resolver =>
  async (host) => {
    if (!answers[host]) throw Object.assign(new Error(`no answer for ${host}`), { code: 'ENOTFOUND' });
    return answers[host];
  };

const resolve = fixed({
  localhost: ['127.0.0.1', '::1'],
  'participant.example.com': ['93.184.215.14'],
  'rebound.example.com': ['10.0.0.1', '169.254.169.254'],
});

const refusalOf = async (url: string, allowList?: string) =>
  (await new ParticipantUrlGuard({ allowList, resolve }).check(url)).refusal;

describe('ParticipantUrlGuard at registration', () => {
  it.each([
    // every IPv4 spelling is read as WHATWG reads it, then checked
    ['http://2852039166/', 'address 169.254.169.254 is link-local'],
    ['http://0251.0376.0251.0376/', 'address 169.254.169.254 is link-local'],
    ['http://0xa9fea9fe/', 'address 169.254.169.254 is link-local'],
    ['http://0xa9.0xfe.0xa9.0xfe/', 'address 169.254.169.254 is link-local'],
    ['http://169.254.43518/', 'address 169.254.169.254 is link-local'],
    ['http://169.254.169.254./', 'address 169.254.169.254 is link-local'],
    ['http://0/', 'address 0.0.0.0 is unspecified'],
    ['http://0.1.2.3/', 'address 0.1.2.3 is unspecified'],
    ['http://100.100.100.200/', 'address 100.100.100.200 is a cloud metadata service'],
    ['http://224.0.0.1/', 'address 224.0.0.1 is multicast or broadcast'],
    // IPv6 forms, and IPv6 forms that carry an IPv4 address
    ['http://[::]/', 'address :: is unspecified'],
    ['http://[fe80::1]/', 'address fe80::1 is link-local'],
    ['http://[fd00:ec2::254]/', 'address fd00:ec2::254 is a cloud metadata service'],
    [
      'http://[::ffff:169.254.169.254]/',
      'address ::ffff:a9fe:a9fe carries 169.254.169.254 (IPv4-mapped), which is link-local',
    ],
    [
      'http://[::ffff:a9fe:a9fe]/',
      'address ::ffff:a9fe:a9fe carries 169.254.169.254 (IPv4-mapped), which is link-local',
    ],
    [
      'http://[0:0:0:0:0:ffff:a9fe:a9fe]/',
      'address ::ffff:a9fe:a9fe carries 169.254.169.254 (IPv4-mapped), which is link-local',
    ],
    [
      'http://[::169.254.169.254]/',
      'address ::a9fe:a9fe carries 169.254.169.254 (IPv4-compatible), which is link-local',
    ],
    ['http://[::ffff:0.0.0.0]/', 'address ::ffff:0:0 carries 0.0.0.0 (IPv4-mapped), which is unspecified'],
    [
      'http://[::ffff:0:a9fe:a9fe]/',
      'address ::ffff:0:a9fe:a9fe carries 169.254.169.254 (IPv4-translated), which is link-local',
    ],
    [
      'http://[64:ff9b::169.254.169.254]/',
      'address 64:ff9b::a9fe:a9fe carries 169.254.169.254 (NAT64), which is link-local',
    ],
    [
      'http://[64:ff9b:1::a9fe:a9fe]/',
      'address 64:ff9b:1::a9fe:a9fe is local-use NAT64, whose IPv4 target cannot be checked',
    ],
    ['http://[2002:a9fe:a9fe::]/', 'address 2002:a9fe:a9fe:: carries 169.254.169.254 (6to4), which is link-local'],
    [
      'http://[2002:a9fe:a9fe:1::5]/',
      'address 2002:a9fe:a9fe:1::5 carries 169.254.169.254 (6to4), which is link-local',
    ],
    // Teredo: server in bits 32-63, client inverted in the last 32 bits
    [
      'http://[2001:0:a9fe:a9fe::1]/',
      'address 2001:0:a9fe:a9fe::1 carries 169.254.169.254 (Teredo server), which is link-local',
    ],
    [
      'http://[2001:0:5db8:1::5601:5601]/',
      'address 2001:0:5db8:1::5601:5601 carries 169.254.169.254 (Teredo client), which is link-local',
    ],
    // names: known metadata names, and names whose answer holds a forbidden address
    ['http://metadata.google.internal/', 'host "metadata.google.internal" is a cloud metadata service'],
    ['http://METADATA.google.internal./', 'host "metadata.google.internal" is a cloud metadata service'],
    ['http://rebound.example.com/', 'address 169.254.169.254 is link-local'],
    ['http://nowhere.example.com/', 'host "nowhere.example.com" does not resolve'],
    // spellings that parsers read differently
    ['http://user:pw@127.0.0.1/', 'must not carry credentials'],
    ['http://@127.0.0.1/', 'must not carry credentials'],
    ['http://127.0.0.1:80@169.254.169.254/', 'must not carry credentials'],
    ['http://127.0.0.1\\@169.254.169.254/', 'must not contain backslashes'],
    ['http:\\\\169.254.169.254\\', 'must not contain backslashes'],
    ['http://%31%36%39.254.169.254/', 'host must not be percent-encoded'],
    ['http://%6c%6f%63%61%6c%68%6f%73%74/', 'host must not be percent-encoded'],
    ['http://169%2e254%2e169%2e254/', 'host must not be percent-encoded'],
    ['http://ｌｏｃａｌｈｏｓｔ/', 'must be ASCII (international names in punycode)'],
    ['http://①②⑦.0.0.1/', 'must be ASCII (international names in punycode)'],
    [' http://127.0.0.1/', 'must not contain whitespace or control characters'],
    ['http://127.0.0.1/\t', 'must not contain whitespace or control characters'],
    ['http://127.0.0\n.1/', 'must not contain whitespace or control characters'],
    ['http:127.0.0.1/', 'must be an absolute http(s) URL'],
    ['http:///127.0.0.1/', 'must name a host'],
    ['http://127.0.0.1/#', 'must not carry a query or fragment'],
    ['http://127.0.0.1/#x', 'must not carry a query or fragment'],
    ['http://127.0.0.1/?', 'must not carry a query or fragment'],
    ['ftp://127.0.0.1/', 'must use http or https'],
    ['file:///etc/passwd', 'must use http or https'],
    ['not-a-url', 'must be an absolute http(s) URL'],
  ])('refuses %j: %s', async (url, rule) => {
    expect(await refusalOf(url)).toBe(rule);
  });

  it.each([
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/'],
    ['http://localhost:9000/base', 'http://localhost:9000/base'],
    ['https://[::1]:8443/base/', 'https://[::1]:8443/base/'],
    ['http://10.1.2.3/', 'http://10.1.2.3/'],
    ['http://192.168.0.7:81/', 'http://192.168.0.7:81/'],
    ['http://participant.example.com/txc', 'http://participant.example.com/txc'],
    ['HTTP://Participant.Example.COM:80/a/../txc', 'http://participant.example.com/txc'],
    ['http://2130706433/', 'http://127.0.0.1/'],
    ['http://[::ffff:7f00:1]/', 'http://[::ffff:7f00:1]/'],
  ])('accepts %j, stored as %j', async (url, stored) => {
    expect(await new ParticipantUrlGuard({ resolve }).check(url)).toEqual({ url: stored, refusal: null });
  });

  it('enforces an allow-list of hosts and CIDRs', async () => {
    const list = '10.0.0.0/8, localhost, [fd12::]/16';
    expect(await refusalOf('http://10.1.2.3/', list)).toBeNull();
    expect(await refusalOf('http://localhost:9000/', list)).toBeNull();
    expect(await refusalOf('http://[fd12::1]/', list)).toBeNull();
    expect(await refusalOf('http://127.0.0.1/', list)).toBe('host "127.0.0.1" is not in PARTICIPANT_URL_ALLOWLIST');
    expect(await refusalOf('http://participant.example.com/', list)).toBe(
      'host "participant.example.com" is not in PARTICIPANT_URL_ALLOWLIST',
    );
  });

  it('refuses forbidden addresses even when the allow-list names them', async () => {
    expect(await refusalOf('http://169.254.169.254/', '169.254.0.0/16')).toBe('address 169.254.169.254 is link-local');
  });
});

describe('forbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '::1',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.1',
    '93.184.215.14',
    '2606:2800::1',
    '::ffff:a00:1',
  ])('lets %s through', (address) => {
    expect(forbiddenAddress(address)).toBeNull();
  });

  it('reads NAT64 of a public address as allowed', () => {
    expect(forbiddenAddress('64:ff9b::5db8:d70e')).toBeNull();
  });
});

describe('normaliseParticipantUrl', () => {
  it('stores the WHATWG serialisation', () => {
    expect(normaliseParticipantUrl('http://0x7f.1:8080/a/./b')).toEqual({
      url: 'http://127.0.0.1:8080/a/b',
      host: '127.0.0.1',
      refusal: null,
    });
  });

  it('holds the length limit to the URL as stored (and as an instance is named by it), not as sent', () => {
    const base = 'http://127.0.0.1:7601/';
    const plain = base + 'a'.repeat(Limits.maxParticipantUrlLength - base.length);
    expect(normaliseParticipantUrl(plain).url).toBe(plain);
    // each `{` is stored as %7B: within the limit as sent, three times longer as stored
    const escaped = base + '{'.repeat(Limits.maxParticipantUrlLength - base.length);
    expect(normaliseParticipantUrl(escaped)).toMatchObject({
      url: null,
      refusal: `must be at most ${Limits.maxParticipantUrlLength} characters as stored (percent-encoded: ${base.length + 3 * (Limits.maxParticipantUrlLength - base.length)})`,
    });
  });
});

describe('ParticipantUrlGuard on broker URLs', () => {
  const brokerRefusal = async (url: string, transport: 'nats' | 'redis' | 'rabbitmq', allowList?: string) =>
    new ParticipantUrlGuard({ allowList, resolve }).check(url, transport);

  it.each([
    ['nats://127.0.0.1:4222', 'nats', 'nats://127.0.0.1:4222'],
    ['tls://localhost:4222', 'nats', 'tls://localhost:4222'],
    ['redis://127.0.0.1:6379/2', 'redis', 'redis://127.0.0.1:6379/2'],
    ['amqp://participant.example.com:5672/vhost', 'rabbitmq', 'amqp://participant.example.com:5672/vhost'],
  ] as const)('accepts %s for %s, stored as %s', async (url, transport, stored) => {
    expect(await brokerRefusal(url, transport)).toEqual({ url: stored, refusal: null });
  });

  it.each([
    ['http://127.0.0.1:4222', 'nats', 'must use nats or tls'],
    ['amqp://127.0.0.1:5672', 'redis', 'must use redis or rediss'],
    ['nats://user:secret@127.0.0.1:4222', 'nats', 'must not carry credentials'],
    ['redis://:secret@127.0.0.1:6379', 'redis', 'must not carry credentials'],
    ['nats://169.254.169.254:4222', 'nats', 'address 169.254.169.254 is link-local'],
    ['amqp://rebound.example.com', 'rabbitmq', 'address 169.254.169.254 is link-local'],
    ['nats://:4222', 'nats', 'must name a host'],
    ['nats:127.0.0.1:4222', 'nats', 'must be a nats or tls URL'],
    ['redis://127.0.0.1:6379?password=x', 'redis', 'must not carry a query or fragment'],
  ] as const)('refuses %s for %s: %s', async (url, transport, reason) => {
    expect((await brokerRefusal(url, transport)).refusal).toBe(reason);
  });

  it('applies PARTICIPANT_URL_ALLOWLIST to broker hosts too', async () => {
    expect((await brokerRefusal('nats://participant.example.com:4222', 'nats', '127.0.0.1')).refusal).toBe(
      'host "participant.example.com" is not in PARTICIPANT_URL_ALLOWLIST',
    );
  });
});
