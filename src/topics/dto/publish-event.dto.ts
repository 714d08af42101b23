import { z } from 'zod';
import { EVENT_TYPE } from '../../common/topic-names';

/** POST /api/events/:topic body: `{"type"?, "data"}`. */
export const publishEventSchema = z
  .object({
    type: z
      .string({ error: 'must be a string' })
      .regex(EVENT_TYPE, 'must be 1 to 64 letters, digits or . _ : -')
      .default('message'),
    data: z.unknown().optional(),
  })
  .refine((body) => body.data !== undefined, {
    path: ['data'],
    message: 'is required (any JSON value)',
  });

export type PublishEventDto = z.output<typeof publishEventSchema>;

/**
 * Topics that features write with their own payload shapes; the generic publish endpoint leaves
 * them alone so their clients never see a foreign shape (read them through /api/events freely).
 */
export const RESERVED_TOPIC_PATTERNS = ['ticker', 'broadcast', 'user:*', 'chat:*', 'ai:*'];
