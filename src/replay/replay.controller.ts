import { Controller } from '@nestjs/common';
import { Observable } from 'rxjs';
import { RequireTopicAccess } from '../auth/topic-access.guard';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import { ReplayService } from './replay.service';
import { TICKER_TOPIC } from './ticker.service';
import { ApiTags } from '@nestjs/swagger';
import { replayEvents } from './dto/replay-events.dto';

@ApiTags('replay')
@Controller()
export class ReplayController {
  constructor(private readonly replay: ReplayService) {}

  /** The ticker replay demo (seed): resume with Last-Event-ID or ?lastEventId=. */
  @SseEndpoint('events', 'replay', { events: replayEvents })
  @RequireTopicAccess('subscribe', TICKER_TOPIC)
  events(@LastEventId() lastEventId: string | undefined): Observable<SseEmission> {
    return this.replay.stream(lastEventId);
  }
}
