import { BadRequestException, NotFoundException } from '@nestjs/common';
import type { Request } from 'express';
import { z } from 'zod';
import { parseJsonBody } from '../../../common/json-body';
import { paramPipe } from '../../../common/param-pipe';
import type { ChatMessage } from '../../ai-provider';
import { MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_PROMPT_CHARS } from '../../dto/ai-chat.dto';

/**
 * Chat ids: letters, digits, `_` and `-`, 1..128 characters. The AI SDK's own ids (`generateId`,
 * 16 letters and digits), UUIDs and nanoids all fit, and such an id is one URL path segment as is.
 */
export const CHAT_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Part types a UI message may carry that add nothing to the prompt of a text model: step markers,
 * reasoning, sources and the application's own `data-*` parts (as the SDK's convertToModelMessages
 * drops data parts). They are accepted and left out. Any other non-text part (files, tool calls)
 * asks for something a text-only model cannot do: a 400, never silently dropped.
 */
const IGNORED_PART = /^(step-start|reasoning|source-url|source-document|data-.+)$/;

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const otherPart = z.looseObject({ type: z.string() }).superRefine((part, ctx) => {
  if (part.type === 'text' || IGNORED_PART.test(part.type)) return;
  ctx.addIssue({
    code: 'custom',
    message: `parts of type "${part.type}" are not supported (a Rivulet answer is text only)`,
  });
});

const uiMessage = z.looseObject({
  id: z.string().max(256).optional(),
  role: z.enum(['system', 'user', 'assistant']),
  parts: z.array(z.union([textPart, otherPart])).max(100),
});

/**
 * The body DefaultChatTransport sends (HttpChatTransport.sendMessages): `id` (the chat), `messages`
 * (the whole conversation as UI messages with `parts`), `trigger` and `messageId` (the message
 * being regenerated or edited; the client has already cut the conversation there). Other keys (the
 * transport's `body` option) are ignored.
 */
export const sdkChatRequestSchema = z.looseObject({
  id: z.string().regex(CHAT_ID, 'must be 1 to 128 letters, digits, _ or -'),
  messages: z.array(uiMessage).min(1).max(MAX_MESSAGES),
  trigger: z.enum(['submit-message', 'regenerate-message']),
  messageId: z.string().max(256).optional(),
});

export interface SdkChatRequest {
  chatId: string;
  trigger: 'submit-message' | 'regenerate-message';
  /** The conversation as the model gets it: each message's text parts joined. */
  messages: ChatMessage[];
}

/** POST /api/ai/sdk/chat: the transport's body, checked and turned into the model's conversation. */
export function parseSdkChatRequest(req: Request): SdkChatRequest {
  const { id, trigger, messages: uiMessages } = parseJsonBody(req, sdkChatRequestSchema);
  const messages: ChatMessage[] = [];
  const problems: string[] = [];
  let total = 0;
  uiMessages.forEach((message, index) => {
    const content = message.parts
      .filter((part): part is z.infer<typeof textPart> => part.type === 'text')
      .map((part) => part.text)
      .join('');
    total += content.length;
    if (content.length > MAX_MESSAGE_CHARS) {
      problems.push(`messages.${index}: must hold at most ${MAX_MESSAGE_CHARS} characters of text`);
    }
    // An answer stopped before its first word is an empty assistant message: nothing to tell the model.
    if (content.trim() === '') {
      if (message.role !== 'assistant') problems.push(`messages.${index}: must contain text`);
      return;
    }
    messages.push({ role: message.role, content });
  });
  if (total > MAX_PROMPT_CHARS) {
    problems.push(`messages: must hold at most ${MAX_PROMPT_CHARS} characters of text in all`);
  }
  if (uiMessages[uiMessages.length - 1]?.role !== 'user') {
    problems.push('messages: the last message must be the user message to answer');
  }
  if (problems.length > 0) throw new BadRequestException(problems.join('; '));
  return { chatId: id, trigger, messages };
}

/** A chat id from the URL; anything else names no chat (404, as for a chat that does not exist). */
export function parseChatIdParam(raw: string): string {
  if (!CHAT_ID.test(raw)) throw new NotFoundException('No such chat');
  return raw;
}

/** parseChatIdParam as the pipe of a `:chatId` parameter. */
export const chatIdParam = paramPipe(parseChatIdParam);
