import { Controller, Delete, HttpCode, HttpStatus, Ip, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { defer, EMPTY, from, Observable, switchMap } from 'rxjs';
import { CurrentPrincipal, ResolveCaller } from '../../auth/caller.guard';
import type { Principal } from '../../auth/principal';
import { SseEndpoint } from '../../sse/sse-endpoint.decorator';
import { generationQuotaKey } from '../ai-access.service';
import type { SseEmission } from '../../sse/sse-message';
import { chatIdParam, parseSdkChatRequest, sdkChatRequestSchema } from './dto/sdk-chat-request.dto';
import { SdkChatService, StopOutcome } from './sdk-chat.service';
import { UI_MESSAGE_STREAM_HEADER } from './ui-message-stream';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiJsonBody } from '../../common/api-docs';
import { sdkChatEvents, stopOutcomeSchema } from './dto/sdk-chat-events.dto';

/**
 * The AI SDK's chat endpoints, where `useChat` / DefaultChatTransport look for them when `api` is
 * `/api/ai/sdk/chat`: POST sends a message, GET `<api>/<chatId>/stream` is the transport's default
 * reconnect URL (`useChat({ resume: true })`), DELETE on that URL is the stop button. See
 * SdkChatService for what a chat is and who may use it.
 */
@ApiTags('ai-sdk')
@Controller('api/ai/sdk')
@ResolveCaller()
export class SdkChatController {
  constructor(private readonly chats: SdkChatService) {}

  /** Answers the conversation's last message: a new generation, streamed as UI message chunks. */
  @SseEndpoint('chat', 'ai-sdk', {
    method: 'POST',
    headers: UI_MESSAGE_STREAM_HEADER,
    events: sdkChatEvents,
  })
  @ApiJsonBody(sdkChatRequestSchema)
  @ApiErrors(413)
  chat(
    @Req() req: Request,
    @CurrentPrincipal() caller: Principal | undefined,
    @Ip() ip: string,
  ): Observable<SseEmission> {
    const owner = this.chats.authorizeStart(caller);
    const { chatId, messages } = parseSdkChatRequest(req);
    const quotaKey = generationQuotaKey(ip, owner);
    return defer(() => from(this.chats.startTurn(chatId, owner, messages, quotaKey))).pipe(
      switchMap((generationId) => this.chats.uiStream(generationId)),
    );
  }

  /**
   * The chat's running answer, all of it from its `start`, then live (the SDK's resume treats it as
   * a replay and rebuilds the message); 204 when nothing is running, which the SDK reads as "nothing
   * to resume".
   */
  @SseEndpoint('chat/:chatId/stream', 'ai-sdk', {
    headers: UI_MESSAGE_STREAM_HEADER,
    events: sdkChatEvents,
  })
  @ApiErrors(404)
  resume(
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('chatId', chatIdParam) chatId: string,
  ): Observable<SseEmission> {
    return defer(() => from(this.chats.activeAnswer(caller, chatId, 'read'))).pipe(
      switchMap((generationId) =>
        generationId === undefined ? EMPTY : this.chats.uiStream(generationId),
      ),
    );
  }

  /**
   * Stops the chat's running answer for every reader (they get `abort`, then `[DONE]`) and aborts the
   * model call: 202 `cancelled`, or 200 `finished` when there was nothing left to stop.
   */
  @Delete('chat/:chatId/stream')
  @ApiResponse({ status: 202, description: 'stopped', standardSchema: stopOutcomeSchema })
  @ApiResponse({
    status: 200,
    description: 'nothing was running (status finished)',
    standardSchema: stopOutcomeSchema,
  })
  @ApiErrors(401, 403, 404, 503)
  @HttpCode(HttpStatus.ACCEPTED)
  async stop(
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('chatId', chatIdParam) chatId: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ chatId: string; status: StopOutcome }> {
    const generationId = await this.chats.activeAnswer(caller, chatId, 'stop');
    const status = generationId === undefined ? 'finished' : await this.chats.stop(generationId);
    if (status === 'finished') res.status(HttpStatus.OK);
    return { chatId, status };
  }
}
