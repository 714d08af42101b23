import { Controller, HttpCode, HttpStatus, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { AccessService } from '../auth/access.service';
import { CurrentPrincipal, ResolveCaller } from '../auth/caller.guard';
import type { Principal } from '../auth/principal';
import { parseJsonBody } from '../common/json-body';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import { publishEventSchema } from './dto/publish-event.dto';
import { topicListParam, topicParam } from './dto/topic-name';
import { TopicsService } from './topics.service';
import { ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiJsonBody } from '../common/api-docs';
import { publishedSchema } from '../common/published.dto';
import { topicEvents } from './dto/topic-events.dto';

@ApiTags('topics')
@Controller('api')
@ResolveCaller()
export class TopicsController {
  constructor(
    private readonly topics: TopicsService,
    private readonly access: AccessService,
  ) {}

  /** Several topics on one connection: `?topic=a&topic=b` (or `?topic=a,b`). */
  @SseEndpoint('events', 'topics', { events: topicEvents })
  @ApiQuery({
    name: 'topic',
    required: true,
    type: [String],
    description: 'topics to multiplex (repeat it, or a,b); at most 32',
  })
  events(
    @CurrentPrincipal() caller: Principal | undefined,
    @Query('topic', topicListParam) topics: string[],
    @LastEventId() lastEventId: string | undefined,
  ): Observable<SseEmission> {
    return this.subscribe(caller, topics, lastEventId);
  }

  /** The seed's channel stream: `/api/stream/a,b`, same events as /api/events. */
  @SseEndpoint('stream/:channels', 'topics', { events: topicEvents })
  channels(
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('channels', topicListParam) topics: string[],
    @LastEventId() lastEventId: string | undefined,
  ): Observable<SseEmission> {
    return this.subscribe(caller, topics, lastEventId);
  }

  /** Publishes `{type?, data}` to one topic: 202 with the event id. */
  @Post('events/:topic')
  @ApiJsonBody(publishEventSchema)
  @ApiResponse({ status: 202, description: 'published', standardSchema: publishedSchema })
  @ApiErrors(400, 401, 403, 413, 503)
  @HttpCode(HttpStatus.ACCEPTED)
  async publish(
    @Req() req: Request,
    @CurrentPrincipal() caller: Principal | undefined,
    @Param('topic', topicParam) topic: string,
  ): Promise<{ id: string }> {
    this.access.check(caller, 'publish', [topic]);
    const body = parseJsonBody(req, publishEventSchema);
    const event = await this.topics.publish(topic, body.type, body.data);
    return { id: event.id };
  }

  private subscribe(
    caller: Principal | undefined,
    topics: string[],
    lastEventId: string | undefined,
  ): Observable<SseEmission> {
    this.access.check(caller, 'subscribe', topics);
    return this.topics.stream(topics, lastEventId);
  }
}
