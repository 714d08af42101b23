import { BadRequestException, NotFoundException } from '@nestjs/common';
import { z } from 'zod';

/** Bounds on what a client may send to a model (they bound its cost too). */
export const MAX_MESSAGES = 50;
export const MAX_MESSAGE_CHARS = 8000;
export const MAX_PROMPT_CHARS = 32000;

const chatMessage = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z
    .string()
    .min(1, 'must not be empty')
    .max(MAX_MESSAGE_CHARS, `must be at most ${MAX_MESSAGE_CHARS} characters`),
});

/** POST /api/ai/chat body: `{"messages":[{"role","content"}]}`; unknown keys are dropped. */
export const chatRequestSchema = z
  .object({ messages: z.array(chatMessage).min(1).max(MAX_MESSAGES) })
  .superRefine((body, ctx) => {
    const total = body.messages.reduce((sum, m) => sum + m.content.length, 0);
    if (total > MAX_PROMPT_CHARS) {
      ctx.addIssue({
        code: 'custom',
        path: ['messages'],
        message: `must hold at most ${MAX_PROMPT_CHARS} characters in all`,
      });
    }
    if (!body.messages.some((m) => m.role === 'user')) {
      ctx.addIssue({ code: 'custom', path: ['messages'], message: 'must contain a user message' });
    }
  });

/** GET /api/ai/chat `?message=` (seed): one user message, 1..MAX_MESSAGE_CHARS characters. */
export function parseMessageQuery(raw: unknown): string {
  if (typeof raw !== 'string')
    throw new BadRequestException('message must be given once, as a string');
  if (raw.trim() === '') throw new BadRequestException('message must not be empty');
  if (raw.length > MAX_MESSAGE_CHARS) {
    throw new BadRequestException(`message must be at most ${MAX_MESSAGE_CHARS} characters long`);
  }
  return raw;
}

/** `?pace=`: `chunk` (default, as the model produces it) or `char` (one event per character). */
export type Pace = 'chunk' | 'char';

export function parsePace(raw: unknown): Pace {
  if (raw === undefined || raw === 'chunk') return 'chunk';
  if (raw === 'char') return 'char';
  throw new BadRequestException('pace must be "chunk" or "char"');
}

const GENERATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A generation id is a UUID this server handed out; anything else names no generation. */
export function parseGenerationId(raw: string): string {
  if (!GENERATION_ID.test(raw)) throw new NotFoundException('No such generation');
  return raw;
}
