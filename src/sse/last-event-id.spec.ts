import { BadRequestException } from '@nestjs/common';
import { parseLastEventId } from './last-event-id';

describe('parseLastEventId', () => {
  it('is undefined for a fresh connection', () => {
    expect(parseLastEventId(undefined, undefined)).toBeUndefined();
    expect(parseLastEventId('', '')).toBeUndefined();
  });

  it('reads the header, and the lastEventId query parameter when there is no header', () => {
    expect(parseLastEventId('42', undefined)).toBe('42');
    expect(parseLastEventId(undefined, '17')).toBe('17');
    expect(parseLastEventId('42', '17')).toBe('42');
    expect(parseLastEventId(['5', '6'], undefined)).toBe('5');
  });

  it.each(['abc', '-1', '1.5', '01', ' 1', '1 ', '1\n', '0x10', '12345678901234567', '1e3'])(
    'rejects %j with a 400',
    (bad) => {
      expect(() => parseLastEventId(bad, undefined)).toThrow(BadRequestException);
      expect(() => parseLastEventId(undefined, bad)).toThrow(BadRequestException);
    },
  );

  it('rejects a repeated query parameter', () => {
    expect(() => parseLastEventId(undefined, ['1', '2'])).toThrow(BadRequestException);
  });
});
