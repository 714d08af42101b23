import { z } from 'zod';
import { resetEvent, streamEvents } from '../../sse/stream-events';

/** The AI answer streams (seed shapes; `reason` and the `?pace=char` `index` are additions). */
export const aiEvents = streamEvents('AiEvent', [
  z.strictObject({ type: z.literal('start'), generationId: z.uuid() }),
  z.strictObject({
    type: z.literal('chunk'),
    content: z.string(),
    index: z.int().optional().meta({ description: "?pace=char: the character's position" }),
  }),
  z.strictObject({ type: z.literal('done') }),
  z.strictObject({
    type: z.literal('error'),
    message: z.string(),
    reason: z
      .enum(['upstream', 'timeout', 'malformed', 'cancelled', 'abandoned', 'shutdown'])
      .optional(),
  }),
  resetEvent,
]);

/** DELETE /api/ai/chat/:generationId answers this: 202 `cancelled`, or 200 `finished`. */
export const cancelOutcomeSchema = z.strictObject({
  generationId: z.uuid(),
  status: z.enum(['cancelled', 'finished']),
});
