import { bodyOfStored, storedBody } from './stored-body';

describe('stored answer bodies', () => {
  it('give back the body with its keys in their order', () => {
    const body = { status: 'committed', id: 't-1', branches: [{ zz: 1, a: null }] };
    const back = bodyOfStored(JSON.parse(JSON.stringify(storedBody(body))));
    expect(JSON.stringify(back)).toBe(JSON.stringify(body));
  });

  it('keep null and scalar bodies', () => {
    for (const body of [null, 'text', 3, [1, { b: 2, a: 1 }]]) expect(bodyOfStored(storedBody(body))).toEqual(body);
  });

  it('read a body stored before the wrapper as it is', () => {
    expect(bodyOfStored({ id: 't-1', status: 'running' })).toEqual({ id: 't-1', status: 'running' });
    expect(bodyOfStored({ 'txc:json': '{}', other: 1 })).toEqual({ 'txc:json': '{}', other: 1 });
    expect(bodyOfStored(null)).toBeNull();
  });
});
