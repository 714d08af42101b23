import { Controller } from '@nestjs/common';
import { Observable } from 'rxjs';
import { RequireTopicAccess } from '../auth/topic-access.guard';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import { MonitorService } from './monitor.service';
import { ApiTags } from '@nestjs/swagger';
import { monitorEvents } from './dto/monitor-events.dto';

/** Access name of the monitor stream (not a log topic): public only if PUBLIC_TOPICS lists it. */
export const MONITOR_ACCESS_NAME = 'monitor';

@ApiTags('monitor')
@Controller('api')
export class MonitorController {
  constructor(private readonly monitor: MonitorService) {}

  /** Server figures (seed): `{cpu, memory, disk, connections, timestamp}`, live only, no ids. */
  @SseEndpoint('monitor', 'monitor', { events: monitorEvents })
  @RequireTopicAccess('subscribe', MONITOR_ACCESS_NAME)
  stream(): Observable<SseEmission> {
    return this.monitor.stream();
  }
}
