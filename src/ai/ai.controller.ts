import {
  Controller,
  Delete,
  HttpCode,
  HttpStatus,
  Ip,
  NotFoundException,
  Param,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentPrincipal, ResolveCaller } from '../auth/caller.guard';
import type { Principal } from '../auth/principal';
import { defer, from, Observable, of, switchMap } from 'rxjs';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SSE_OPEN, SseEmission } from '../sse/sse-message';
import { AiAccessService, generationQuotaKey } from './ai-access.service';
import type { ChatMessage } from './ai-provider';
import {
  chatRequestSchema,
  Pace,
  generationIdParam,
  messageParam,
  paceParam,
  PACES,
} from './dto/ai-chat.dto';
import { GenerationService, StartOptions } from './generation.service';
import { ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiJsonBody } from '../common/api-docs';
import { parseJsonBody } from '../common/json-body';
import { aiEvents, cancelOutcomeSchema } from './dto/ai-events.dto';

/** `?pace=` in the API document, from the values paceParam accepts. */
const PaceQuery = ApiQuery({
  name: 'pace',
  required: false,
  enum: Object.keys(PACES),
  description: 'chunk (as the model produces it) or char (one event per character)',
});

/** AI answers. Access (AUTH_JWT_SECRET set) is checked before any stream starts: see AiAccessService. */
@ApiTags('ai')
@Controller('api')
@ResolveCaller()
export class AiController {
  constructor(
    private readonly generations: GenerationService,
    private readonly access: AiAccessService,
  ) {}

  /**
   * The seed's AI answer: `?message=` starts a generation and streams it. EventSource's own
   * reconnect (same URL + Last-Event-ID) resumes the generation holding that event and never starts
   * a new one. That lookup checks access first and only ever sees the caller's own generations of
   * this message (a direct read, see GenerationService.findByEvent): "nobody asked that" and "not
   * yours" are the same 404 (EventSource stops). A HEAD request gets the stream's headers and
   * starts nothing.
   */
  @SseEndpoint('ai/chat', 'ai', { events: aiEvents })
  @ApiQuery({
    name: 'message',
    required: true,
    type: String,
    description: 'the user message to answer',
  })
  @PaceQuery
  @ApiErrors(404)
  async chat(
    @Req() req: Request,
    @CurrentPrincipal() caller: Principal | undefined,
    @Ip() ip: string,
    @Query('message', messageParam) message: string,
    @Query('pace', paceParam) pace: Pace | undefined,
    @LastEventId() lastEventId: string | undefined,
  ): Promise<Observable<SseEmission>> {
    if (lastEventId === undefined) {
      const owner = this.access.authorizeStart(caller);
      if (req.method === 'HEAD') return of(SSE_OPEN);
      const promptKey = GenerationService.promptKey(message, owner);
      return this.startAndStream([{ role: 'user', content: message }], pace ?? 'chunk', {
        promptKey,
        owner,
        quotaKey: generationQuotaKey(ip, owner),
      });
    }
    const { owner } = this.access.authorizeSeedLookup(caller);
    const promptKey = GenerationService.promptKey(message, owner);
    const generationId = await this.generations.findByEvent(promptKey, lastEventId);
    if (generationId === undefined || !(await this.access.mayRead(caller, generationId))) {
      throw new NotFoundException(
        'None of your generations of this message holds that Last-Event-ID (it expired, or another store ran it); ask again without it',
      );
    }
    return this.generations.stream(generationId, lastEventId, pace ?? 'chunk');
  }

  /** The same stream for fetch clients: body `{"messages":[{"role","content"}]}`. */
  @SseEndpoint('ai/chat', 'ai', { method: 'POST', events: aiEvents })
  @ApiJsonBody(chatRequestSchema)
  @PaceQuery
  @ApiErrors(413)
  chatPost(
    @Req() req: Request,
    @CurrentPrincipal() caller: Principal | undefined,
    @Ip() ip: string,
    @Query('pace', paceParam) pace: Pace | undefined,
  ): Observable<SseEmission> {
    const owner = this.access.authorizeStart(caller);
    // As every JSON route: Content-Type checked, an object required, one message naming each problem.
    const { messages } = parseJsonBody(req, chatRequestSchema);
    return this.startAndStream(messages, pace ?? 'chunk', {
      owner,
      quotaKey: generationQuotaKey(ip, owner),
    });
  }

  /** Resumes (or replays from the start) a generation by id; 204 once read to its end. */
  @SseEndpoint('ai/chat/:generationId', 'ai', { events: aiEvents })
  @PaceQuery
  @ApiErrors(404)
  async resume(
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('generationId', generationIdParam) generationId: string,
    @Query('pace', paceParam) pace: Pace | undefined,
    @LastEventId() lastEventId: string | undefined,
  ): Promise<Observable<SseEmission>> {
    await this.access.authorizeRead(caller, generationId);
    return this.generations.stream(generationId, lastEventId, pace ?? 'chunk');
  }

  /** Cancels a running generation: upstream aborted at once, readers get `error` reason `cancelled`. */
  @Delete('ai/chat/:generationId')
  @ApiResponse({ status: 202, description: 'cancelled', standardSchema: cancelOutcomeSchema })
  @ApiResponse({
    status: 200,
    description: 'already over (status finished)',
    standardSchema: cancelOutcomeSchema,
  })
  @ApiErrors(401, 403, 404, 503)
  @HttpCode(HttpStatus.ACCEPTED)
  async cancel(
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('generationId', generationIdParam) generationId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ generationId: string; status: 'cancelled' | 'finished' }> {
    await this.access.authorizeCancel(caller, generationId);
    const outcome = await this.generations.cancel(generationId);
    if (outcome === 'finished') res.status(HttpStatus.OK);
    return { generationId, status: outcome };
  }

  /** Starts a generation once the stream is subscribed, then streams it from its first event. */
  private startAndStream(
    messages: readonly ChatMessage[],
    pace: Pace,
    options: StartOptions,
  ): Observable<SseEmission> {
    return defer(() => from(this.generations.start(messages, options))).pipe(
      switchMap((generationId) => this.generations.stream(generationId, undefined, pace)),
    );
  }
}
