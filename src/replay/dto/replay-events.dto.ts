import { z } from 'zod';
import { resetEvent, streamErrorEvent, streamEvents } from '../../sse/stream-events';

const tick = {
  id: z.string(),
  message: z.string(),
  timestamp: z.iso.datetime(),
};

/** GET /events (seed): what each `data:` holds. Only `message` and `catch_up_message` carry `id:`. */
export const replayEvents = streamEvents('ReplayEvent', [
  z.strictObject({
    type: z.literal('connected'),
    message: z.string(),
    timestamp: z.iso.datetime(),
  }),
  z.strictObject({ ...tick, type: z.literal('message') }),
  z.strictObject({ type: z.literal('catch_up_start'), message: z.string(), count: z.int() }),
  z.strictObject({
    ...tick,
    type: z.literal('catch_up_message'),
    originalType: z.literal('message'),
  }),
  z.strictObject({ type: z.literal('catch_up_end'), message: z.string(), syncCount: z.int() }),
  resetEvent,
  streamErrorEvent,
]);
