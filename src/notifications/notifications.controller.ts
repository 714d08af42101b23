import {
  BadRequestException,
  Controller,
  ForbiddenException,
  HttpCode,
  HttpStatus,
  Post,
  Query,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { AccessService } from '../auth/access.service';
import { paramPipe } from '../common/param-pipe';
import { CurrentPrincipal, ResolveCaller } from '../auth/caller.guard';
import type { Principal } from '../auth/principal';
import { parseJsonBody } from '../common/json-body';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import { BROADCAST_TOPIC, isUserId, USER_ID_RULE, userTopic } from '../common/topic-names';
import { sendNotificationSchema } from './dto/send-notification.dto';
import { NotificationsService } from './notifications.service';
import { ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiJsonBody } from '../common/api-docs';
import { notificationEvents, notificationSentSchema } from './dto/notification-events.dto';

/** `?userId=`: a user id, or undefined when absent or empty. */
const USER_ID_PARAM = paramPipe((raw: unknown): string | undefined => {
  if (raw === undefined || raw === '') return undefined;
  if (!isUserId(raw)) throw new BadRequestException(`userId must be ${USER_ID_RULE}`);
  return raw;
});

@ApiTags('notifications')
@Controller('api/notifications')
@ResolveCaller()
export class NotificationsController {
  constructor(
    private readonly notifications: NotificationsService,
    private readonly access: AccessService,
  ) {}

  /**
   * The caller's notifications plus broadcasts. The caller is the token's `sub` when auth is on
   * (`?userId=`, if given, must be the same user), or `?userId=` in open mode; without a user, the
   * stream carries broadcasts only.
   */
  @SseEndpoint('stream', 'notifications', { events: notificationEvents })
  @ApiQuery({
    name: 'userId',
    required: false,
    type: String,
    description: "open mode: whose notifications; with auth, the token's sub (or the same user)",
  })
  stream(
    @CurrentPrincipal() principal: Principal | undefined,
    @Query('userId', USER_ID_PARAM) asked: string | undefined,
    @LastEventId() lastEventId: string | undefined,
  ): Observable<SseEmission> {
    let userId = asked;
    if (!this.access.openMode) {
      if (asked !== undefined && principal?.sub !== asked) {
        throw principal
          ? new ForbiddenException(`${userTopic(asked)} belongs to another user`)
          : new UnauthorizedException('An access token is required to read notifications');
      }
      // Every `sub` is a user id (AccessService checks the claim): a personal stream for each.
      userId = principal?.sub;
      const topics =
        userId === undefined ? [BROADCAST_TOPIC] : [userTopic(userId), BROADCAST_TOPIC];
      this.access.check(principal, 'subscribe', topics);
    }
    return this.notifications.stream(userId, lastEventId);
  }

  /** Sends a notification to one user, several users or everyone (publisher tokens only). */
  @Post()
  @ApiJsonBody(sendNotificationSchema)
  @ApiResponse({
    status: 202,
    description: 'sent (ids: one per user for userIds)',
    standardSchema: notificationSentSchema,
  })
  @ApiErrors(400, 401, 403, 413, 503)
  @HttpCode(HttpStatus.ACCEPTED)
  async send(
    @Req() req: Request,
    @CurrentPrincipal() principal: Principal | undefined,
  ): Promise<{ id: string; ids?: string[] }> {
    if (!this.access.openMode && !principal) {
      throw new UnauthorizedException('An access token is required to send notifications');
    }
    const dto = parseJsonBody(req, sendNotificationSchema);
    const topics = this.notifications.targets(dto);
    this.access.check(principal, 'publish', topics);
    const ids = await this.notifications.send(topics, dto);
    return dto.userIds !== undefined ? { id: ids[0]!, ids } : { id: ids[0]! };
  }
}
