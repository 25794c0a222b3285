import { hashSecret, parseApiKeys } from './api-keys';
import { GRANTS, Permission, may } from './permissions';

describe('API_KEYS', () => {
  it('reads name:role:secret entries, a secret may hold colons', () => {
    const { keys, problems } = parseApiKeys('ops:operator:0123456789abcdef, ci:client:a:b:c:d:e:f:g:h:i');
    expect(problems).toEqual([]);
    expect(keys).toEqual([
      { name: 'ops', role: 'operator', secret: '0123456789abcdef' },
      { name: 'ci', role: 'client', secret: 'a:b:c:d:e:f:g:h:i' },
    ]);
  });

  it('names every broken entry', () => {
    const { problems } = parseApiKeys(
      'ops:boss:0123456789abcdef,:viewer:fedcba9876543210,x:viewer:short,ops:viewer:0123456789abcdef',
    );
    expect(problems).toEqual([
      'entry 1: role must be one of viewer, client, participant, operator, admin',
      'entry 2: name must be 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit (format name:role:secret)',
      'entry 3: secret must be at least 16 characters',
      'entry 4: name "ops" is used twice',
      'entry 4: secret is used by another key',
    ]);
  });

  // each was taken at start and then never matched a `Bearer` header: every call 401
  it('refuses a secret that no Authorization header can carry', () => {
    const { problems } = parseApiKeys(
      'sp:viewer:0123456789abcdef bad,lead:viewer: leadingspace1234567,accent:viewer:0123456789abcdefé,tab:viewer:0123456789\tabcdef',
    );
    const rule = 'secret must be visible ASCII characters (! to ~), without spaces';
    expect(problems).toEqual([1, 2, 3, 4].map((i) => `entry ${i}: ${rule}`));
  });

  it('hashes secrets one way, the same way every time', () => {
    expect(hashSecret('0123456789abcdef')).toBe(hashSecret('0123456789abcdef'));
    expect(hashSecret('0123456789abcdef')).not.toContain('0123456789abcdef');
  });
});

describe('roles', () => {
  it('follow the access table', () => {
    expect(may('viewer', Permission.Read)).toBe(true);
    expect(may('viewer', Permission.Start)).toBe(false);
    expect(may('client', Permission.Start)).toBe(true);
    expect(may('client', Permission.Operate)).toBe(false);
    expect(may('participant', Permission.Register)).toBe(true);
    expect(may('participant', Permission.Read)).toBe(false);
    expect(may('operator', Permission.Operate)).toBe(true);
    expect(may('operator', Permission.ManageKeys)).toBe(false);
    expect(may('operator', Permission.Register)).toBe(false);
    expect(GRANTS.admin).toEqual(Object.values(Permission));
  });
});
