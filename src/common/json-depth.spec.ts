import { jsonDepth, JsonTooDeepError, verifyJsonDepth } from './json-depth';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('jsonDepth', () => {
  it('counts the deepest nesting of arrays and objects', () => {
    expect(jsonDepth(bytes('1'), 64)).toBe(0);
    expect(jsonDepth(bytes('{"a":[1,{"b":{}}],"c":[]}'), 64)).toBe(4);
    expect(jsonDepth(bytes(nested(64)), 64)).toBe(64);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonDepth(bytes('{"a":"[[[[{{{{","b":"\\"[[[["}'), 2)).toBe(1);
    expect(jsonDepth(bytes('["\\\\",[]]'), 64)).toBe(2);
    expect(jsonDepth(bytes('{"é[":"ü{"}'), 64)).toBe(1);
  });

  it('stops past the limit, whatever the size (no recursion, no stack)', () => {
    expect(jsonDepth(bytes(nested(1_000_000)), 64)).toBe(65);
  });
});

describe('verifyJsonDepth', () => {
  it('refuses a body deeper than the limit with a 400 error, accepts one at the limit', () => {
    const verify = verifyJsonDepth(3);
    expect(() => verify(undefined, undefined, bytes('[[[1]]]'))).not.toThrow();
    expect(() => verify(undefined, undefined, bytes('[[[[1]]]]'))).toThrow(JsonTooDeepError);
    expect(new JsonTooDeepError(3)).toMatchObject({ status: 400, message: /MAX_JSON_DEPTH \(3\)/ });
  });

  it('is needed: without it, a deep body parses fine and then breaks JSON.stringify', () => {
    const value: unknown = JSON.parse(nested(20_000));
    expect(() => JSON.stringify(value)).toThrow(RangeError);
  });
});
