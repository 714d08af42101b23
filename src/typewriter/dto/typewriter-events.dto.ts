import { z } from 'zod';
import { resetEvent, streamErrorEvent, streamEvents } from '../../sse/stream-events';

/** GET /api/stream (seed): `start`, one `chunk` per character (`id:` = its index), `end`. */
export const typewriterEvents = streamEvents('TypewriterEvent', [
  z.strictObject({ type: z.literal('start'), message: z.string(), total: z.int() }),
  z.strictObject({ type: z.literal('chunk'), char: z.string(), index: z.int(), total: z.int() }),
  z.strictObject({ type: z.literal('end'), message: z.string(), total: z.int() }),
  resetEvent,
  streamErrorEvent,
]);
