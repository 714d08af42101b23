import { BadRequestException } from '@nestjs/common';
import { MAX_TOPICS_PER_CONNECTION, parseTopic, parseTopicList } from './topic-name';

describe('topic names', () => {
  it('accepts letters, digits and . _ : - up to 128 characters', () => {
    for (const name of ['ticker', 'chat:lobby', 'user:42', 'orders.eu-west_1', 'a'.repeat(128)]) {
      expect(parseTopic(name)).toBe(name);
    }
  });

  it('rejects anything else with 400', () => {
    for (const name of ['', 'a'.repeat(129), 'chat:*', 'a b', 'a\nb', 'é', '../x', 42, undefined]) {
      expect(() => parseTopic(name)).toThrow(BadRequestException);
    }
  });

  it('reads repeated and comma-separated topics, without duplicates', () => {
    expect(parseTopicList(['a', 'b,c', 'a'])).toEqual(['a', 'b', 'c']);
    expect(parseTopicList('x, y')).toEqual(['x', 'y']);
  });

  it('needs at least one topic and at most MAX_TOPICS_PER_CONNECTION', () => {
    expect(() => parseTopicList(undefined)).toThrow('Name at least one topic');
    expect(() => parseTopicList('a,,')).toThrow(BadRequestException);
    const many = Array.from({ length: MAX_TOPICS_PER_CONNECTION + 1 }, (_, i) => `t${i}`);
    expect(parseTopicList(many.slice(0, MAX_TOPICS_PER_CONNECTION))).toHaveLength(
      MAX_TOPICS_PER_CONNECTION,
    );
    expect(() => parseTopicList(many)).toThrow(`at most ${MAX_TOPICS_PER_CONNECTION} topics`);
  });
});
