import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * The one SSE frame parser of the tests. Fields are read by eventsource-parser (the parser the app
 * uses for upstream AI streams): `data:` with or without the space, multi-line data, a NUL in an
 * id, CR/LF/CRLF line ends. Frame boundaries are found here, because a frame without data (a
 * comment, `retry:`) is never dispatched by the parser, and tests count those frames too.
 */

export interface SseFrame {
  /** The frame as sent, without the blank line that ends it. */
  text: string;
  /** Offset just past the blank line that ends the frame, in the parsed text. */
  end: number;
  id: string | undefined;
  event: string | undefined;
  /** The data lines joined by "\n"; undefined when the frame has none (nothing is dispatched). */
  data: string | undefined;
  retry: number | undefined;
  comments: string[];
}

/** A dispatched event whose data is JSON, parsed (an error when it is not JSON). */
export interface DataFrame<T = any> {
  id: string | undefined;
  event: string | undefined;
  data: T;
}

const LINE_END = /\r\n|\r|\n/g;

/** The complete frames of an SSE text (an unfinished last frame is left out). */
export function parseFrames(text: string): SseFrame[] {
  const frames: SseFrame[] = [];
  let event: EventSourceMessage | undefined;
  let retry: number | undefined;
  let comments: string[] = [];
  const parser = createParser({
    onEvent: (message) => (event = message),
    onRetry: (value) => (retry = value),
    onComment: (comment) => comments.push(comment),
  });
  let frameStart = 0;
  let lineStart = 0;
  LINE_END.lastIndex = 0;
  for (let match = LINE_END.exec(text); match; match = LINE_END.exec(text)) {
    const blank = match.index === lineStart;
    lineStart = match.index + match[0].length;
    if (!blank) continue;
    if (match.index > frameStart) {
      const frameText = text.slice(frameStart, match.index);
      // The frame with its blank line; the extra LF completes a blank line that is a lone CR
      // (the parser waits to see whether an LF follows it).
      parser.feed(text.slice(frameStart, lineStart));
      parser.feed('\n');
      frames.push({
        text: frameText.replace(/(\r\n|\r|\n)$/, ''),
        end: lineStart,
        id: event?.id,
        event: event?.event,
        data: event?.data,
        retry,
        comments,
      });
      parser.reset();
      event = undefined;
      retry = undefined;
      comments = [];
    }
    frameStart = lineStart;
  }
  return frames;
}

/** The complete frames that carry data, with the data parsed as JSON. */
export function dataFrames<T = any>(text: string): Array<DataFrame<T>> {
  return parseFrames(text)
    .filter((frame) => frame.data !== undefined)
    .map((frame) => ({ id: frame.id, event: frame.event, data: JSON.parse(frame.data!) as T }));
}
