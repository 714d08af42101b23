import {
  BadRequestException,
  Controller,
  ForbiddenException,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Req,
} from '@nestjs/common';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { AccessService } from '../auth/access.service';
import { CurrentPrincipal, ResolveCaller } from '../auth/caller.guard';
import type { Principal } from '../auth/principal';
import { parseJsonBody } from '../common/json-body';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import { ChatService } from './chat.service';
import { schemaParam } from '../common/schema-param';
import { chatMessageSchema, roomIdSchema, roomTopic } from './dto/chat-message.dto';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiJsonBody } from '../common/api-docs';
import { chatEvents, chatPostedSchema } from './dto/chat-events.dto';

/** `:roomId`, checked before the handler runs (before access, as parseRoomId was). */
const ROOM_ID_PARAM = { schema: roomIdSchema, pipes: [schemaParam] };

@ApiTags('chat')
@Controller('api/chat')
@ResolveCaller()
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly access: AccessService,
  ) {}

  /** A room's messages (seed); a reconnect with Last-Event-ID replays what it missed. */
  @SseEndpoint(':roomId', 'chat', { events: chatEvents })
  room(
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('roomId', ROOM_ID_PARAM) roomId: string,
    @LastEventId() lastEventId: string | undefined,
  ): Observable<SseEmission> {
    this.access.check(caller, 'subscribe', [roomTopic(roomId)]);
    return this.chat.stream(roomId, lastEventId);
  }

  /**
   * Posts `{user, text}` to a room (seed): 201 `{success: true, id}`. In open mode the author is
   * `user`; with auth on it is the token's display name (`name` / `preferred_username`) or its
   * `sub`, whatever `user` says, so nobody posts as someone else.
   */
  @Post(':roomId/message')
  @ApiJsonBody(chatMessageSchema)
  @ApiResponse({ status: 201, description: 'posted', standardSchema: chatPostedSchema })
  @ApiErrors(400, 401, 403, 413, 503)
  @HttpCode(HttpStatus.CREATED)
  async post(
    @Req() req: Request,
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('roomId', ROOM_ID_PARAM) roomId: string,
  ): Promise<{ success: true; id: string }> {
    this.access.check(caller, 'publish', [roomTopic(roomId)]);
    const body = parseJsonBody(req, chatMessageSchema);
    const user = this.access.openMode ? body.user : authorOf(caller);
    if (user === undefined) throw new BadRequestException('user: is required (a string)');
    const event = await this.chat.post(roomId, { user, text: body.text });
    return { success: true, id: event.id };
  }
}

/** The author a token posts as: its display name, else its subject. */
function authorOf(principal: Principal | undefined): string {
  const author = principal?.name ?? principal?.sub;
  if (author === undefined)
    throw new ForbiddenException('Posting to a room needs a token that names a user (sub)');
  return author;
}
