import { z } from 'zod';
import { streamEvents } from '../../../sse/stream-events';

/**
 * The AI SDK's UI message stream: each `data:` is one UI message chunk (start, text-start,
 * text-delta, text-end, finish, abort, error...; the `ai` package's own schema), ended by `[DONE]`.
 */
export const sdkChatEvents = streamEvents('UiMessageStreamPart', [
  z.looseObject({
    type: z.string().meta({ description: 'the chunk type, e.g. text-delta' }),
  }),
  z.literal('[DONE]'),
]);

/** DELETE /api/ai/sdk/chat/:chatId/stream answers this: 202 `cancelled`, or 200 `finished`. */
export const stopOutcomeSchema = z.strictObject({
  chatId: z.string(),
  status: z.enum(['cancelled', 'finished']),
});
