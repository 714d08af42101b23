import { z } from 'zod';

/**
 * The control messages any replayable stream may send (no `id:`): a resume point that fell out of
 * retention or that the log never handed out.
 */
export const resetEvent = z.strictObject({
  type: z.literal('reset'),
  reason: z.enum(['history_truncated', 'unknown_id']),
});

/** The last message of a stream that failed after it started (SseInterceptor), then it ends. */
export const streamErrorEvent = z.strictObject({
  type: z.literal('error'),
  message: z.string(),
});

/**
 * A stream's events as one schema: exactly one of the members matches each event's `data:` (a
 * `oneOf` in the API document), so the members are strict objects that cannot overlap.
 */
export function streamEvents<const T extends readonly [z.ZodType, z.ZodType, ...z.ZodType[]]>(
  id: string,
  members: T,
) {
  return z.xor(members).meta({ id });
}
