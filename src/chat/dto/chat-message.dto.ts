import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';

/** Room ids, as in `/api/chat/:roomId` and the room's topic `chat:<roomId>`. */
export const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseRoomId(raw: unknown): string {
  if (typeof raw !== 'string' || !ROOM_ID.test(raw)) {
    throw new BadRequestException('roomId must be 1 to 64 letters, digits, _ or -');
  }
  return raw;
}

export function roomTopic(roomId: string): string {
  return `chat:${roomId}`;
}

/** POST /api/chat/:roomId/message body (seed): `{"user","text"}`. */
export const chatMessageSchema = z.object({
  user: z.string({ error: 'is required (a string)' }).trim().min(1, 'must not be empty').max(64),
  text: z
    .string({ error: 'is required (a string)' })
    .max(4000, 'must be at most 4000 characters')
    .refine((text) => text.trim().length > 0, 'must not be empty'),
});

export type ChatMessageDto = z.output<typeof chatMessageSchema>;

/** What a room stream sends for each message (seed shape), with the event's `id:`. */
export interface ChatMessagePayload {
  type: 'message';
  roomId: string;
  user: string;
  text: string;
  timestamp: string;
}
