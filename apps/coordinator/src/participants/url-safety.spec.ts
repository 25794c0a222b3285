import { UrlAllowList, refuseParticipantUrl } from './url-safety';

describe('refuseParticipantUrl', () => {
  const open = new UrlAllowList(undefined);

  it.each([
    ['http://127.0.0.1:8080', null],
    ['https://[::1]:8443/base', null],
    ['ftp://127.0.0.1', 'must use http or https'],
    ['http://169.254.169.254/latest', 'address 169.254.169.254 is link-local or a metadata service'],
    ['http://[fe80::1]/', 'address fe80::1 is link-local or a metadata service'],
    ['http://metadata.google.internal/', 'host "metadata.google.internal" is a cloud metadata service'],
    ['http://user:pw@127.0.0.1/', 'must not carry credentials'],
    ['http://[::ffff:169.254.169.254]/', 'address ::ffff:a9fe:a9fe is link-local or a metadata service'],
  ])('%s -> %s', async (url, reason) => {
    expect(await refuseParticipantUrl(url, open)).toBe(reason);
  });

  it('enforces an allow-list of hosts and CIDRs', async () => {
    const list = new UrlAllowList('10.0.0.0/8, localhost');
    expect(await refuseParticipantUrl('http://10.1.2.3/', list)).toBeNull();
    expect(await refuseParticipantUrl('http://localhost:9000/', list)).toBeNull();
    expect(await refuseParticipantUrl('http://127.0.0.1/', list)).toBe(
      'host "127.0.0.1" is not in PARTICIPANT_URL_ALLOWLIST',
    );
  });
});
