import { Inject, Injectable } from '@nestjs/common';
import { concat, EMPTY, map, Observable, of, take, timer } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { SSE_OPEN, SseEmission, SseMessage } from '../sse/sse-message';

export interface TypewriterChunk {
  type: 'chunk';
  char: string;
  index: number;
  total: number;
}

/**
 * GET /api/stream: a text typed out one character per TYPEWRITER_INTERVAL_MS. Each chunk's id is its
 * index, so a reconnect with Last-Event-ID continues with the next character; a finished text
 * answers 204.
 */
@Injectable()
export class TypewriterService {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  stream(chars: readonly string[], lastEventId: string | undefined): Observable<SseEmission> {
    const total = chars.length;
    const last = lastEventId === undefined ? undefined : Number(lastEventId);
    if (last !== undefined && last === total - 1) return EMPTY;
    const forged = last !== undefined && last >= total;
    const from = last === undefined || forged ? 0 : last + 1;
    const intro: SseMessage[] = [];
    if (forged) intro.push({ data: { type: 'reset', reason: 'unknown_id' } });
    if (from === 0) intro.push({ data: { type: 'start', message: 'Stream starting', total } });
    const period = this.config.streams.typewriterIntervalMs;
    const chunks = timer(period, period).pipe(
      map((n): SseMessage => {
        const index = from + n;
        const chunk: TypewriterChunk = { type: 'chunk', char: chars[index]!, index, total };
        return { id: String(index), data: chunk };
      }),
    );
    return concat(
      of<SseEmission[]>(SSE_OPEN, ...intro),
      chunks.pipe(take(total - from)),
      of({ data: { type: 'end', message: 'Stream complete', total } }),
    );
  }
}
