import http from 'node:http';
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

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

/** A plain request that reads the whole (non-stream) body: 4xx, 204, DELETE answers. */
export function request(
  url: string,
  method: 'GET' | 'POST' | 'DELETE',
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const body =
    options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
