import { retryPolicySchema, startTransactionSchema } from './transaction-request.schema';

describe('retryPolicySchema', () => {
  const parse = (input: unknown) => retryPolicySchema.safeParse(input);

  it('fills the defaults: 8 attempts, 200 ms, 30 s', () => {
    expect(parse({}).data).toEqual({ maxAttempts: 8, initialBackoffMs: 200, maxBackoffMs: 30_000 });
  });

  it('lets a backoff left out follow the one given, so a default never contradicts it', () => {
    expect(parse({ initialBackoffMs: 40_000 }).data).toMatchObject({ initialBackoffMs: 40_000, maxBackoffMs: 40_000 });
    expect(parse({ initialBackoffMs: 3_600_000 }).data).toMatchObject({ maxBackoffMs: 3_600_000 });
    expect(parse({ maxBackoffMs: 100 }).data).toMatchObject({ initialBackoffMs: 100, maxBackoffMs: 100 });
    expect(parse({ maxBackoffMs: 0 }).data).toMatchObject({ initialBackoffMs: 0, maxBackoffMs: 0 });
  });

  it('refuses a cap under the initial backoff when both are given, naming maxBackoffMs', () => {
    const r = parse({ initialBackoffMs: 500, maxBackoffMs: 100 });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['maxBackoffMs', 'must be at least initialBackoffMs'],
    ]);
  });
});

describe('startTransactionSchema: dependsOn', () => {
  const saga = (dependsOn: string[]) => ({
    protocol: 'saga',
    branches: [
      { id: 'debit', participant: 'accounts' },
      { id: 'credit', participant: 'accounts', dependsOn },
    ],
  });
  const issues = (input: unknown) =>
    (startTransactionSchema.safeParse(input).error?.issues ?? []).map((i) => [i.path.join('.'), i.message]);

  it('accepts each dependency once', () => {
    expect(issues(saga(['debit']))).toEqual([]);
  });

  it('refuses a dependency named twice, naming the repeat', () => {
    expect(issues(saga(['debit', 'debit']))).toEqual([['branches.1.dependsOn.1', 'repeats branch "debit"']]);
  });
});

describe('startTransactionSchema: paths', () => {
  const saga = (path: string) => ({
    protocol: 'saga',
    branches: [{ id: 'debit', participant: 'accounts', paths: { action: path } }],
  });
  const issues = (path: string) =>
    (startTransactionSchema.safeParse(saga(path)).error?.issues ?? []).map((i) => [i.path.join('.'), i.message]);

  // a URL resolves dot segments: the call would leave the base path of the participant's URL
  it.each(['/../admin', '/a/..', '/a/./b', '/.', '/%2e%2e/admin', '/a/%2E/b', '/.%2e/x'])('refuses %s', (path) => {
    expect(issues(path)).toEqual([['branches.0.paths.action', 'must not hold a "." or ".." segment']]);
  });

  it.each(['/debit', '/.well-known/x', '/a/.../b', '/a..b', '/v1.2/debit', '/a/b.'])('takes %s', (path) => {
    expect(issues(path)).toEqual([]);
  });
});

describe('startTransactionSchema: a message’s check', () => {
  const message = (extra: object) => ({
    protocol: 'msg',
    branches: [{ id: 'ship', participant: 'shipping' }],
    ...extra,
  });
  const issues = (input: unknown) =>
    (startTransactionSchema.safeParse(input).error?.issues ?? []).map((i) => [i.path.join('.'), i.message]);
  const check = { participant: 'orders', path: '/msg/check' };

  it('takes a check and checkAfterMs in prepared mode', () => {
    expect(issues(message({ mode: 'prepared', check, checkAfterMs: 5000 }))).toEqual([]);
  });

  // a driven message is delivered at once and never asks its sender: the fields would be dropped
  it.each([
    ['check', { check }],
    ['checkAfterMs', { checkAfterMs: 5000 }],
  ])('refuses %s on a driven message, naming it', (field, extra) => {
    const rule = 'is only for a prepared message (mode "prepared"): a driven message is delivered at once, unchecked';
    expect(issues(message(extra))).toEqual([[field, rule]]);
    expect(issues(message({ mode: 'driven', ...extra }))).toEqual([[field, rule]]);
  });

  it('says that the checkAfterMs it compares is the default when none was given', () => {
    expect(issues(message({ mode: 'prepared', check, timeoutMs: 5000 }))).toEqual([
      [
        'checkAfterMs',
        'must be less than timeoutMs (5000): the check is asked before the deadline (got the default, 10000)',
      ],
    ]);
  });
});
