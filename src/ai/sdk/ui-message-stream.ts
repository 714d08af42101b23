import type { UIMessageChunk } from 'ai';
import type { SseMessage } from '../../sse/sse-message';
import type { AiErrorReason, AiEvent } from '../ai-events';

/**
 * The AI SDK's UI message stream protocol (v1), as `DefaultChatTransport` reads it: SSE whose every
 * `data:` is one JSON chunk, ended by the literal `[DONE]`, on a response carrying this header. The
 * chunk types are the SDK's own (`UIMessageChunk` from `ai`, a type-only import: nothing of the SDK
 * runs on the server), so the compiler checks each chunk against the protocol.
 */
export const UI_MESSAGE_STREAM_HEADER = { 'x-vercel-ai-ui-message-stream': 'v1' } as const;

/** The answer's one text part: a Rivulet generation streams a single block of text. */
export const TEXT_PART_ID = 'text';

/** The frame that ends every UI message stream. */
export const DONE_MESSAGE: SseMessage = Object.freeze({ data: '[DONE]' });

/**
 * The UI message chunks of one generation event (see ai-events.ts):
 *
 * - `start` → `start` (messageId = the generation id, the same on every replay, so a resumed answer
 *   replaces its partial copy instead of adding a second message) and `text-start`;
 * - `chunk` → `text-delta`;
 * - `done` → `text-end`, `finish` (finishReason `stop`);
 * - `error` reason `cancelled` (a stop) → `text-end`, `abort`;
 * - any other `error` → `text-end`, `error` (errorText safe to show), `finish` (finishReason `error`).
 *
 * Each terminal event is followed by `[DONE]` (see toUiMessages). No chunk carries an SSE `id:`: the
 * reconnect endpoint always replays the answer from its start (the SDK's default, resumeStreamIsReplay).
 */
export function uiChunksOf(event: AiEvent): UIMessageChunk[] {
  switch (event.type) {
    case 'start':
      return [
        { type: 'start', messageId: event.generationId },
        { type: 'text-start', id: TEXT_PART_ID },
      ];
    case 'chunk':
      return [{ type: 'text-delta', id: TEXT_PART_ID, delta: event.content }];
    case 'done':
      return [
        { type: 'text-end', id: TEXT_PART_ID },
        { type: 'finish', finishReason: 'stop' },
      ];
    case 'error':
      if (event.reason === 'cancelled') {
        return [
          { type: 'text-end', id: TEXT_PART_ID },
          { type: 'abort', reason: 'cancelled' },
        ];
      }
      return [
        { type: 'text-end', id: TEXT_PART_ID },
        { type: 'error', errorText: errorTextOf(event.reason, event.message) },
        { type: 'finish', finishReason: 'error' },
      ];
  }
}

/** The SSE messages of one generation event: its chunks, then `[DONE]` after a terminal one. */
export function toUiMessages(event: AiEvent): SseMessage[] {
  const messages: SseMessage[] = uiChunksOf(event).map((chunk) => ({ data: chunk }));
  if (event.type === 'done' || event.type === 'error') messages.push(DONE_MESSAGE);
  return messages;
}

/**
 * What a reader of an answer whose `start` is no longer retained gets first (the answer outgrew
 * STORE_RETENTION events): a `start` and `text-start`, so the rest is still a valid stream.
 */
export function openingOf(generationId: string): SseMessage[] {
  return toUiMessages({ type: 'start', generationId });
}

/** The end of a stream that failed after it started (the store went away): an error part, then `[DONE]`. */
export function failureMessages(message: string): SseMessage[] {
  return [
    { data: { type: 'error', errorText: message } satisfies UIMessageChunk },
    { data: { type: 'finish', finishReason: 'error' } satisfies UIMessageChunk },
    DONE_MESSAGE,
  ];
}

function errorTextOf(reason: AiErrorReason, message: string): string {
  switch (reason) {
    case 'abandoned':
      return 'The answer was stopped: nobody read it for AI_DETACH_GRACE_MS';
    case 'shutdown':
      return 'The answer was interrupted: the server shut down';
    case 'cancelled':
    case 'upstream':
    case 'timeout':
    case 'malformed':
    case 'store':
      return message;
  }
}
