import { Controller, HttpCode, HttpStatus, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { AccessService } from '../auth/access.service';
import { parseJsonBody } from '../common/json-body';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import { ChatService } from './chat.service';
import { chatMessageSchema, parseRoomId, roomTopic } from './dto/chat-message.dto';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiJsonBody } from '../common/api-docs';
import { chatEvents, chatPostedSchema } from './dto/chat-events.dto';

@ApiTags('chat')
@Controller('api/chat')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly access: AccessService,
  ) {}

  /** A room's messages (seed); a reconnect with Last-Event-ID replays what it missed. */
  @SseEndpoint(':roomId', 'chat', { events: chatEvents })
  async room(
    @Req() req: Request,
    @Param('roomId') rawRoomId: string,
    @LastEventId() lastEventId: string | undefined,
  ): Promise<Observable<SseEmission>> {
    const roomId = parseRoomId(rawRoomId);
    await this.access.authorize(req, 'subscribe', [roomTopic(roomId)]);
    return this.chat.stream(roomId, lastEventId);
  }

  /** Posts `{user, text}` to a room (seed): 201 `{success: true, id}`. */
  @Post(':roomId/message')
  @ApiJsonBody(chatMessageSchema)
  @ApiResponse({ status: 201, description: 'posted', standardSchema: chatPostedSchema })
  @ApiErrors(400, 401, 403, 413, 503)
  @HttpCode(HttpStatus.CREATED)
  async post(
    @Req() req: Request,
    @Param('roomId') rawRoomId: string,
  ): Promise<{ success: true; id: string }> {
    const roomId = parseRoomId(rawRoomId);
    await this.access.authorize(req, 'publish', [roomTopic(roomId)]);
    const dto = parseJsonBody(req, chatMessageSchema);
    const event = await this.chat.post(roomId, dto);
    return { success: true, id: event.id };
  }
}
