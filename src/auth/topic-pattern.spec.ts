import { isTopicPattern, matchesAny, matchesPattern } from './topic-pattern';

describe('topic patterns', () => {
  it('matches an exact name only exactly', () => {
    expect(matchesPattern('ticker', 'ticker')).toBe(true);
    expect(matchesPattern('ticker', 'ticker2')).toBe(false);
    expect(matchesPattern('chat:lobby', 'chat:lobby2')).toBe(false);
  });

  it('matches a trailing * as a prefix', () => {
    expect(matchesPattern('chat:*', 'chat:lobby')).toBe(true);
    expect(matchesPattern('chat:*', 'chat:')).toBe(true);
    expect(matchesPattern('chat:*', 'chatter')).toBe(false);
    expect(matchesPattern('*', 'anything:at.all')).toBe(true);
  });

  it('treats * anywhere else as no pattern at all', () => {
    expect(isTopicPattern('chat:*')).toBe(true);
    expect(isTopicPattern('*')).toBe(true);
    expect(isTopicPattern('a*b')).toBe(false);
    expect(isTopicPattern('**')).toBe(false);
    expect(isTopicPattern('')).toBe(false);
    expect(isTopicPattern('chat lobby')).toBe(false);
  });

  it('matchesAny is false for no patterns', () => {
    expect(matchesAny([], 'ticker')).toBe(false);
    expect(matchesAny(['a', 'chat:*'], 'chat:x')).toBe(true);
  });
});
