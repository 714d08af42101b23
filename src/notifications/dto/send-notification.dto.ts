import { z } from 'zod';
import { isUserId, USER_ID_RULE } from '../../common/topic-names';

const userId = z.string({ error: 'must be a string' }).refine(isUserId, `must be ${USER_ID_RULE}`);

/**
 * POST /api/notifications body: a title, a body, optional `data`, and exactly one target: `userId`,
 * `userIds` (1..1000 users) or `broadcast: true`.
 */
export const sendNotificationSchema = z
  .object({
    userId: userId.optional(),
    userIds: z.array(userId, { error: 'must be an array of user ids' }).min(1).max(1000).optional(),
    broadcast: z.boolean({ error: 'must be true or false' }).optional(),
    title: z
      .string({ error: 'is required (a string)' })
      .trim()
      .min(1, 'must not be empty')
      .max(200),
    body: z.string({ error: 'is required (a string)' }).max(4000),
    data: z.unknown().optional(),
  })
  .superRefine((value, ctx) => {
    const targets = [
      value.userId !== undefined,
      value.userIds !== undefined,
      value.broadcast === true,
    ];
    if (targets.filter(Boolean).length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'Give exactly one target: "userId", "userIds" or "broadcast": true',
      });
    }
  });

export type SendNotificationDto = z.output<typeof sendNotificationSchema>;

/** What a notification event holds in the log (topic `user:<id>` or `broadcast`). */
export interface NotificationRecord {
  title: string;
  body: string;
  data?: unknown;
}

/** What a notification stream sends (seed shape), as `event: notification`. */
export interface NotificationPayload {
  type: 'notification';
  id: string;
  title: string;
  body: string;
  timestamp: string;
  data?: unknown;
}
