/**
 * Topic patterns, as in PUBLIC_TOPICS and a token's `rivulet.subscribe` / `rivulet.publish`: an exact
 * topic name (`ticker`), or a prefix ending in `*` (`chat:*` is every chat room, `*` every topic).
 */
export const TOPIC_PATTERN = /^[A-Za-z0-9._:-]{0,128}\*?$/;

export function isTopicPattern(value: string): boolean {
  return value.length > 0 && TOPIC_PATTERN.test(value);
}

export function matchesPattern(pattern: string, topic: string): boolean {
  if (pattern.endsWith('*')) return topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}

export function matchesAny(patterns: readonly string[], topic: string): boolean {
  return patterns.some((pattern) => matchesPattern(pattern, topic));
}
