import {
  BadRequestException,
  NotFoundException,
  ParseEnumPipe,
  ParseUUIDPipe,
} from '@nestjs/common';
import { paramPipe } from '../../common/param-pipe';
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

/** parseMessageQuery as the pipe of `@Query('message')`. */
export const messageParam = paramPipe(parseMessageQuery);

/** `?pace=`: `chunk` (default, as the model produces it) or `char` (one event per character). */
export const PACES = { chunk: 'chunk', char: 'char' } as const;
export type Pace = keyof typeof PACES;

/** The pipe for `@Query('pace')`: a Pace, or undefined when absent (the handler's default, chunk). */
export const paceParam = new ParseEnumPipe(PACES, {
  optional: true,
  exceptionFactory: () => new BadRequestException('pace must be "chunk" or "char"'),
});

/**
 * The pipe for `@Param('generationId')`: a generation id is a v4 UUID this server handed out;
 * anything else names no generation (404, as an unknown one).
 */
export const generationIdParam = new ParseUUIDPipe({
  version: '4',
  exceptionFactory: () => new NotFoundException('No such generation'),
});
