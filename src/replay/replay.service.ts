import { Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { EVENT_LOG, EventLog, LogEvent } from '../event-log/event-log';
import { logStreamEmissions, messagePerEvent, ReplayItem } from '../sse/log-stream-emissions';
import { sseBatch, SseEmission, SseMessage } from '../sse/sse-message';
import { TICKER_TOPIC, TickerMessage } from './ticker.service';

/** A ticker event as the seed's replay clients know it. */
interface ReplayPayload {
  id: string;
  type: 'message';
  message: string;
  timestamp: string;
}

/**
 * GET /events: the seed article's replay protocol over the `ticker` topic of the event log.
 * Fresh connection: `connected`, then live events. Resume: `connected`, `catch_up_start`, every
 * missed event as `catch_up_message` (with its id), `catch_up_end`, all in one batch, then live.
 */
@Injectable()
export class ReplayService {
  constructor(@Inject(EVENT_LOG) private readonly log: EventLog) {}

  stream(lastEventId: string | undefined): Observable<SseEmission> {
    return logStreamEmissions(this.log, [TICKER_TOPIC], lastEventId, this.liveMessage, (item) =>
      this.catchUp(item),
    );
  }

  private readonly liveMessage = messagePerEvent((event): SseMessage => ({
    id: event.id,
    data: payload(event),
  }));

  private catchUp(item: ReplayItem): SseEmission {
    const connected: SseMessage = {
      data: {
        type: 'connected',
        message: item.resumed ? 'Reconnected to replay stream' : 'Connected to replay stream',
        timestamp: new Date().toISOString(),
      },
    };
    if (!item.resumed) return connected;
    const messages: SseMessage[] = [connected];
    if (item.reset) messages.push({ data: { type: 'reset', reason: item.reset } });
    if (item.reset !== 'unknown_id') {
      const count = item.events.length;
      messages.push({
        data: { type: 'catch_up_start', message: `Sending ${count} missed message(s)`, count },
      });
      for (const event of item.events) {
        messages.push({
          id: event.id,
          data: { ...payload(event), type: 'catch_up_message', originalType: 'message' },
        });
      }
      messages.push({
        data: {
          type: 'catch_up_end',
          message: `Caught up with ${count} message(s)`,
          syncCount: count,
        },
      });
    }
    return sseBatch(messages);
  }
}

function payload(event: LogEvent): ReplayPayload {
  const data = event.data as TickerMessage;
  return {
    id: event.id,
    type: 'message',
    message: data.message,
    timestamp: new Date(event.timestamp).toISOString(),
  };
}
