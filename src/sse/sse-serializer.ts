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
 * A message that cannot become a frame: its data is a value JSON.stringify cannot walk (nested
 * deeper than the stack allows, a cycle, a BigInt). `eventId` is the message's id, if it has one.
 */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly eventId: string | undefined;

  constructor(message: SseMessage, cause: unknown) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`message ${message.id ?? '(no id)'} cannot be serialized (${reason})`);
    this.eventId = message.id;
  }
}

/**
 * Frames already built, by message. A message object fanned out to many connections is serialized
 * once, however many subscribers write it; so is a failure (each connection gets the same FrameError
 * at once, without walking the value again). A fan-out asks for the same message once per
 * subscriber in a row, so the last one is checked before the map.
 */
const frames = new WeakMap<SseMessage, string | FrameError>();
let lastMessage: SseMessage | undefined;
let lastFrame = '';

/** The message's frame; throws FrameError when it cannot be built. */
export function frameOf(message: SseMessage): string {
  if (message === lastMessage) return lastFrame;
  let frame = frames.get(message);
  if (frame === undefined) {
    try {
      frame = serializeMessage(message);
    } catch (error) {
      frame = new FrameError(message, error);
    }
    frames.set(message, frame);
  }
  if (typeof frame !== 'string') throw frame;
  lastMessage = message;
  lastFrame = frame;
  return frame;
}

/**
 * The last frame of a stream that failed: `{"type":"error","message"}`. With `skippedId` (the event
 * that could not be sent) it carries that id, so the client's Last-Event-ID moves past the event
 * and its reconnect resumes after it instead of failing on it again.
 */
export function errorFrame(message: string, skippedId?: string): string {
  return serializeMessage({ id: skippedId, data: { type: 'error', message } });
}

export function commentFrame(text: string): string {
  return prefixLines(': ', text) + '\n';
}

/** The first bytes of every stream: the reconnection delay and a comment, so `open` fires at once. */
export function openingFrame(retryMs: number): string {
  return `retry: ${retryMs}\n: connected\n\n`;
}

/**
 * A frame for a protocol that dictates its framing (Durable Streams' `data` and `control` events):
 * `event: <type>`, then each line of `data` as `data:<line>`, without the optional space, which its
 * conformance suite expects. A line that itself starts with a space gets the optional one, which the
 * client strips, so no byte is lost. Same guarantees as serializeMessage: CR/LF split lines and never
 * reach the `event:` line.
 */
export function protocolFrame(type: string, data: string): string {
  let frame = `event: ${fieldValue(type)}\n`;
  for (const line of data.split(LINE_BREAK))
    frame += line.startsWith(' ') ? `data: ${line}\n` : `data:${line}\n`;
  return `${frame}\n`;
}
