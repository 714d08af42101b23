import { z } from 'zod';
import { displayNameProblem } from '../../common/display-name';

/** Room ids, as in `/api/chat/:roomId` and the room's topic `chat:<roomId>`. */
export const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The `:roomId` route parameter (validated by Nest 12's schema option, see schemaParam). */
export const roomIdSchema = z
  .string()
  .regex(ROOM_ID, 'roomId must be 1 to 64 letters, digits, _ or -');

export function roomTopic(roomId: string): string {
  return `chat:${roomId}`;
}

/** An author's name: 1 to 64 characters, at least one of them visible, no bidi controls. */
export const authorName = z
  .string({ error: 'is required (a string)' })
  .trim()
  .min(1, 'must not be empty')
  .max(64)
  .superRefine((name, ctx) => {
    const problem = displayNameProblem(name);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * POST /api/chat/:roomId/message body (seed): `{"user","text"}`. With auth on, the author is the
 * token's (ChatController) and `user` may be left out; if given, it is checked but not used.
 */
export const chatMessageSchema = z.object({
  user: authorName.optional(),
  text: z
    .string({ error: 'is required (a string)' })
    .max(4000, 'must be at most 4000 characters')
    .refine((text) => text.trim().length > 0, 'must not be empty'),
});

export type ChatMessageBody = z.output<typeof chatMessageSchema>;

/** A message as posted: its text and the author it is shown under. */
export interface ChatMessageDto {
  user: string;
  text: string;
}

/** What a room stream sends for each message (seed shape), with the event's `id:`. */
export interface ChatMessagePayload {
  type: 'message';
  roomId: string;
  user: string;
  text: string;
  timestamp: string;
}
