import {
  Body,
  Controller,
  Delete,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { defer, from, Observable, switchMap } from 'rxjs';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import {
  parseChatRequest,
  parseGenerationId,
  parseMessageQuery,
  parsePace,
} from './dto/ai-chat.dto';
import { GenerationService } from './generation.service';

@Controller('api')
export class AiController {
  constructor(private readonly generations: GenerationService) {}

  /**
   * The seed's AI answer: `?message=` starts a generation and streams it. EventSource's own
   * reconnect (same URL + Last-Event-ID) resumes the generation holding that event and never starts
   * a new one; an id no generation of this message holds is a 404 (EventSource stops).
   */
  @SseEndpoint('ai/chat', 'ai')
  chat(
    @Query('message') rawMessage: unknown,
    @Query('pace') rawPace: unknown,
    @LastEventId() lastEventId: string | undefined,
  ): Observable<SseEmission> {
    const message = parseMessageQuery(rawMessage);
    const pace = parsePace(rawPace);
    const promptKey = GenerationService.promptKey(message);
    return defer(() =>
      from(
        lastEventId === undefined
          ? this.generations.start([{ role: 'user', content: message }], promptKey)
          : this.generations.findByEvent(promptKey, lastEventId),
      ),
    ).pipe(
      switchMap((generationId) => {
        if (generationId === undefined) {
          throw new NotFoundException(
            'No generation of this message holds that Last-Event-ID (it expired or ran elsewhere); ask again without it',
          );
        }
        return this.generations.stream(generationId, lastEventId, pace);
      }),
    );
  }

  /** The same stream for fetch clients: body `{"messages":[{"role","content"}]}`. */
  @SseEndpoint('ai/chat', 'ai', { method: 'POST' })
  chatPost(@Body() body: unknown, @Query('pace') rawPace: unknown): Observable<SseEmission> {
    const messages = parseChatRequest(body);
    const pace = parsePace(rawPace);
    return defer(() => from(this.generations.start(messages))).pipe(
      switchMap((generationId) => this.generations.stream(generationId, undefined, pace)),
    );
  }

  /** Resumes (or replays from the start) a generation by id; 204 once read to its end. */
  @SseEndpoint('ai/chat/:generationId', 'ai')
  resume(
    @Param('generationId') rawId: string,
    @Query('pace') rawPace: unknown,
    @LastEventId() lastEventId: string | undefined,
  ): Observable<SseEmission> {
    const generationId = parseGenerationId(rawId);
    return this.generations.stream(generationId, lastEventId, parsePace(rawPace));
  }

  /** Cancels a running generation: upstream aborted at once, readers get `error` reason `cancelled`. */
  @Delete('ai/chat/:generationId')
  @HttpCode(HttpStatus.ACCEPTED)
  async cancel(
    @Param('generationId') rawId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ generationId: string; status: 'cancelled' | 'finished' }> {
    const generationId = parseGenerationId(rawId);
    const outcome = await this.generations.cancel(generationId);
    if (outcome === 'finished') res.status(HttpStatus.OK);
    return { generationId, status: outcome };
  }
}
