import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestIdOf } from './request-id';

function exchange(header?: string | string[]) {
  const headers: Record<string, string> = {};
  const req = {
    headers: header === undefined ? {} : { 'x-request-id': header },
  } as unknown as IncomingMessage;
  const res = {
    headersSent: false,
    setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value),
  } as unknown as ServerResponse;
  return { id: requestIdOf(req, res), echoed: headers['x-request-id'] };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe(requestIdOf.name, () => {
  it('keeps a well-formed incoming id and echoes it', () => {
    expect(exchange('abc-123-XYZ')).toEqual({ id: 'abc-123-XYZ', echoed: 'abc-123-XYZ' });
    expect(exchange('a'.repeat(64)).id).toBe('a'.repeat(64));
  });

  it('uses the first value when the header is repeated', () => {
    expect(exchange(['first-1', 'second-2']).id).toBe('first-1');
  });

  it.each([
    ['too long', 'a'.repeat(65)],
    ['spaces', 'a b'],
    ['log injection', 'x"}\n{"level":"fatal"'],
    ['underscore and dots', 'a_b.c'],
    ['empty', ''],
  ])('replaces a malformed id (%s) with a fresh UUID', (_what, value) => {
    const { id, echoed } = exchange(value);
    expect(id).toMatch(UUID);
    expect(echoed).toBe(id);
  });

  it('generates a UUID when there is none, a different one each time', () => {
    const a = exchange().id;
    const b = exchange().id;
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });
});
