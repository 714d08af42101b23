import { z } from 'zod';
import { resetEvent, streamErrorEvent, streamEvents } from '../../sse/stream-events';

/** GET /api/chat/:roomId (seed): each message of the room, with its `id:`. */
export const chatEvents = streamEvents('ChatEvent', [
  z.strictObject({
    type: z.literal('message'),
    roomId: z.string(),
    user: z.string(),
    text: z.string(),
    timestamp: z.iso.datetime(),
  }),
  resetEvent,
  streamErrorEvent,
]);

/** POST /api/chat/:roomId/message answers 201 with this (seed). */
export const chatPostedSchema = z.strictObject({ success: z.literal(true), id: z.string() });
