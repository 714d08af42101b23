import { StreamReader, StreamRequest } from './sse-client';

/** The fields an AI stream's data may carry (start, chunk, done, error, reset). */
export interface FrameData {
  type: string;
  generationId?: string;
  content?: string;
  index?: number;
  message?: string;
  reason?: string;
}

export interface Frame {
  id: string | undefined;
  event: string | undefined;
  data: FrameData;
}

/** Parses the complete frames of an SSE text (data frames only; comments and retry-only frames skipped). */
export function dataFrames(text: string): Frame[] {
  const complete = text.slice(0, text.lastIndexOf('\n\n') + 2);
  const frames: Frame[] = [];
  for (const block of complete.split('\n\n')) {
    let id: string | undefined;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) frames.push({ id, event, data: JSON.parse(data.join('\n')) as FrameData });
  }
  return frames;
}

/** A streamed request (POST with a JSON body, or GET) read raw, for fetch-style clients. */
export class HttpStream extends StreamReader {
  constructor(url: string, options: StreamRequest = {}) {
    super(url, options);
  }

  frames(): Frame[] {
    return dataFrames(this.text);
  }
}
