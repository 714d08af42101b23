import { z } from 'zod';
import { resetEvent, streamErrorEvent, streamEvents } from '../../sse/stream-events';

/** GET /api/notifications/stream (seed shape), sent as `event: notification` with the event's `id:`. */
export const notificationEvents = streamEvents('NotificationEvent', [
  z.strictObject({
    type: z.literal('notification'),
    id: z.string(),
    title: z.string(),
    body: z.string(),
    timestamp: z.iso.datetime(),
    data: z.unknown().optional(),
  }),
  resetEvent,
  streamErrorEvent,
]);

/** POST /api/notifications answers 202 with this; `ids` (one per user) for `userIds`. */
export const notificationSentSchema = z.strictObject({
  id: z.string(),
  ids: z.array(z.string()).optional(),
});
