import { z } from 'zod';
import { resetEvent, streamErrorEvent, streamEvents } from '../../sse/stream-events';

/** GET /api/events and /api/stream/:channels: every event of every topic, with `id:` and `event:` = type. */
export const topicEvents = streamEvents('TopicEvent', [
  z.strictObject({
    id: z.string(),
    topic: z.string(),
    type: z.string(),
    data: z.unknown().meta({ description: 'what the publisher sent, any JSON value' }),
    timestamp: z.iso.datetime(),
  }),
  resetEvent,
  streamErrorEvent,
]);
