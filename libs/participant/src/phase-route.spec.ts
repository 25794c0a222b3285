import { Phase } from '#contracts';
import { HandlerRegistry } from './handler-registry';
import { phasePath, phasePaths, protocolOfPhase } from './phase-route';
import { signBody, verifySignature } from './signature';

describe('phase routes', () => {
  it.each([
    [{ phase: Phase.Action }, '/saga/action'],
    [{ phase: Phase.Compensate, name: 'debit' }, '/saga/debit/compensate'],
    [{ phase: Phase.Try }, '/tcc/try'],
    [{ phase: Phase.Rollback }, '/2pc/rollback'],
    [{ phase: Phase.CanCommit, name: 'stock' }, '/3pc/stock/can-commit'],
    [{ phase: Phase.Abort }, '/3pc/abort'],
  ])('serves %j at %s', (key, path) => {
    expect(phasePath(key)).toBe(path);
  });

  it('maps every phase of a named action for a branch', () => {
    // a message's action shares the saga's phase name: the protocol tells them apart
    expect(phasePaths('msg', 'credit')).toEqual({ action: '/msg/credit/action' });
    expect(phasePath({ phase: 'action', protocol: 'msg' })).toBe('/msg/action');
    expect(phasePath({ phase: 'action' })).toBe('/saga/action');
    expect(phasePath({ phase: 'check' })).toBe('/msg/check');
    expect(() => phasePath({ phase: 'compensate', protocol: 'msg' })).toThrow(/not a phase of "msg"/);
    expect(phasePaths('tcc', 'hold')).toEqual({
      try: '/tcc/hold/try',
      confirm: '/tcc/hold/confirm',
      cancel: '/tcc/hold/cancel',
    });
    expect(protocolOfPhase(Phase.DoCommit)).toBe('3pc');
  });

  it('refuses action names that do not fit in a path segment, and two handlers for one route', () => {
    expect(() => phasePath({ phase: Phase.Action, name: 'a/b' })).toThrow(TypeError);
    expect(() => phasePath({ phase: Phase.Action, name: '' })).toThrow(TypeError);
    const registry = new HandlerRegistry().register({ phase: Phase.Action }, () => 1);
    expect(() => registry.register({ phase: Phase.Action }, () => 2)).toThrow('two handlers for /saga/action');
  });
});

describe('Txn-Signature', () => {
  it('verifies what the coordinator signs, within the tolerance only', () => {
    const header = signBody('s3cret-s3cret-s3cret', '{"a":1}', 1000);
    expect(header).toMatch(/^t=1000,v1=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret-s3cret-s3cret', header, '{"a":1}', 1200)).toBe(true);
    expect(verifySignature('s3cret-s3cret-s3cret', header, '{"a":2}', 1200)).toBe(false);
    expect(verifySignature('other-other-other', header, '{"a":1}', 1200)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', header, '{"a":1}', 1301)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', undefined, '{"a":1}', 1000)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', 't=1000,v1=zz', '{"a":1}', 1000)).toBe(false);
  });
});
