import type { SseMessage } from './sse-message';

const LINE_BREAK = /\r\n|\r|\n/;
const FORBIDDEN_IN_FIELD = /[\r\n\0]/g;

/** A value for a single-line field (event, id, retry): CR, LF and NUL removed, so no frame can be injected. */
function fieldValue(value: string): string {
  return value.replace(FORBIDDEN_IN_FIELD, '');
}

function prefixLines(prefix: string, text: string): string {
  if (!LINE_BREAK.test(text)) return `${prefix}${text}\n`;
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += `${prefix}${line}\n`;
  return out;
}

/**
 * The one SSE serializer: every frame Rivulet writes is built here. Multi-line data becomes several
 * `data:` lines; CR/LF can never reach an `event:`, `id:` or `retry:` line.
 */
export function serializeMessage(message: SseMessage): string {
  let frame = '';
  if (message.comment !== undefined) frame += prefixLines(': ', message.comment);
  if (message.type !== undefined && message.type !== 'message') {
    frame += `event: ${fieldValue(message.type)}\n`;
  }
  if (message.id !== undefined) frame += `id: ${fieldValue(message.id)}\n`;
  if (message.retry !== undefined && Number.isFinite(message.retry) && message.retry >= 0) {
    frame += `retry: ${Math.floor(message.retry)}\n`;
  }
  if (message.data !== undefined) {
    const text = typeof message.data === 'string' ? message.data : JSON.stringify(message.data);
    frame += prefixLines('data: ', text);
  }
  return `${frame}\n`;
}

/**
 * Frames already built, by message. A message object fanned out to many connections is serialized
 * once, however many subscribers write it; a fan-out asks for the same message once per subscriber
 * in a row, so the last one is checked before the map.
 */
const frames = new WeakMap<SseMessage, string>();
let lastMessage: SseMessage | undefined;
let lastFrame = '';

export function frameOf(message: SseMessage): string {
  if (message === lastMessage) return lastFrame;
  let frame = frames.get(message);
  if (frame === undefined) {
    frame = serializeMessage(message);
    frames.set(message, frame);
  }
  lastMessage = message;
  lastFrame = frame;
  return frame;
}

export function commentFrame(text: string): string {
  return prefixLines(': ', text) + '\n';
}

/** The first bytes of every stream: the reconnection delay and a comment, so `open` fires at once. */
export function openingFrame(retryMs: number): string {
  return `retry: ${retryMs}\n: connected\n\n`;
}
