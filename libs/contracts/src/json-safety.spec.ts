import { findUnstorable, parseStorableJson, unstorablePathSegments } from './json-safety';

describe('parseStorableJson', () => {
  it.each([
    ['{"a":[1,2,{"b":1e309}]}', '$.a[2].b', /finite/],
    ['{"a":-1E400}', '$.a', /finite/],
    ['{"a":-0}', '$.a', /negative zero/],
    ['[-0.0e5]', '$[0]', /negative zero/],
    ['{"x":1e-400}', '$.x', /round to zero/],
    ['{"a":1,"a":2}', '$.a', /repeated/],
    ['{"a":{"__proto__":{}}}', '$.a.__proto__', /__proto__/],
    ['{"constructor":{"prototype":{}}}', '$.constructor.prototype', /constructor\.prototype/],
    ['{"d":"\\"}\\u0000"}', '$.d', /NUL/],
    ['{"k\\u0000":1}', '$.k\\u0000', /NUL/],
    ['["\\ud800"]', '$[0]', /surrogate/],
    ['[' + '{"a":'.repeat(5) + '1' + '}'.repeat(5) + ']', '$[0].a.a.a', /nest deeper than 4/],
  ])('refuses %s at %s', (text, path, rule) => {
    const r = parseStorableJson(text, 4);
    expect(r).toEqual({ ok: false, unstorable: { path, rule: expect.stringMatching(rule) } });
  });

  it.each(['0', '5e-324', '1.7976931348623157e308', '-1.5e3', '{"a\\"b":{"a\\"b":[null,true,"\\\\"]}}', '[[[[]]]]'])(
    'takes %s as written',
    (text) => {
      expect(parseStorableJson(text, 4)).toEqual({ ok: true, value: JSON.parse(text) });
    },
  );

  it('gives JSON.parse syntax errors as they are', () => {
    expect(parseStorableJson('[1,', 4)).toEqual({ ok: false, syntax: expect.any(String) });
  });

  it('takes hostile depth without overflowing the stack', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(parseStorableJson(deep, 64)).toMatchObject({ ok: false, unstorable: { rule: /nest deeper/ } });
  });
});

describe('findUnstorable', () => {
  it('takes null', () => {
    expect(findUnstorable({ a: null, b: [null] })).toBeNull();
  });
});

describe('unstorablePathSegments', () => {
  it('splits a path into keys and indexes', () => {
    expect(unstorablePathSegments('$.branches[0].payload.a[12]')).toEqual(['branches', 0, 'payload', 'a', 12]);
    expect(unstorablePathSegments('$')).toEqual([]);
  });
});
