import { BadRequestException } from '@nestjs/common';
import { paramPipe } from '../../common/param-pipe';
import { DURABLE_STREAM_TOPIC_PREFIX, TOPIC_NAME, USER_TOPIC } from '../../common/topic-names';

/** One stream multiplexes at most this many topics. */
export const MAX_TOPICS_PER_CONNECTION = 32;

/**
 * A topic name from a route parameter or a list; 400 with the reason otherwise. A durable stream's
 * topic (`ds:<path>`) is not one: its records are written and read only through /v1/stream/<path>,
 * under the stream scopes (a forged record would corrupt the stream for every reader).
 */
export function parseTopic(raw: unknown): string {
  if (typeof raw !== 'string' || !(TOPIC_NAME.test(raw) || USER_TOPIC.test(raw))) {
    throw new BadRequestException(
      `Invalid topic ${JSON.stringify(raw)}: use 1 to 128 letters, digits or . _ : -`,
    );
  }
  if (raw.startsWith(DURABLE_STREAM_TOPIC_PREFIX)) {
    throw new BadRequestException(
      `${raw} is a durable stream's own topic: use /v1/stream/${raw.slice(DURABLE_STREAM_TOPIC_PREFIX.length)}`,
    );
  }
  return raw;
}

/**
 * The topics of a multiplexed stream: `?topic=a&topic=b`, `?topic=a,b` or the `:channels` path
 * segment `a,b`. Duplicates are dropped; none, a bad name or more than MAX_TOPICS_PER_CONNECTION is a 400.
 */
export function parseTopicList(raw: unknown): string[] {
  const values = raw === undefined ? [] : Array.isArray(raw) ? (raw as unknown[]) : [raw];
  const topics = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string') throw new BadRequestException('topic must be a string');
    for (const part of value.split(',')) {
      topics.add(parseTopic(part.trim()));
      if (topics.size > MAX_TOPICS_PER_CONNECTION) {
        throw new BadRequestException(
          `A stream can carry at most ${MAX_TOPICS_PER_CONNECTION} topics`,
        );
      }
    }
  }
  if (topics.size === 0) {
    throw new BadRequestException('Name at least one topic: ?topic=a&topic=b or /api/stream/a,b');
  }
  return [...topics];
}

/** parseTopic as the pipe of a `:topic` parameter. */
export const topicParam = paramPipe(parseTopic);

/** parseTopicList as the pipe of a `?topic=` or `:channels` parameter. */
export const topicListParam = paramPipe(parseTopicList);
