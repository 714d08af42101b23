import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { matchesAny } from '../auth/topic-pattern';
import { EVENT_LOG, EventLog, LogEvent } from '../event-log/event-log';
import { logStreamEmissions, messagePerEvent } from '../sse/log-stream-emissions';
import { SseEmission, SseMessage } from '../sse/sse-message';
import { RESERVED_TOPIC_PATTERNS } from './dto/publish-event.dto';

/** What a client of /api/events receives for each event, whatever its topic. */
export interface TopicEventPayload {
  id: string;
  topic: string;
  type: string;
  data: unknown;
  timestamp: string;
}

/**
 * Publish to any topic and subscribe to several on one connection. Every event goes out with its log
 * id (one global sequence, so one Last-Event-ID resumes every topic of the connection) and `event:`
 * set to its type.
 */
@Injectable()
export class TopicsService {
  constructor(@Inject(EVENT_LOG) private readonly log: EventLog) {}

  async publish(topic: string, type: string, data: unknown): Promise<LogEvent> {
    if (matchesAny(RESERVED_TOPIC_PATTERNS, topic)) {
      throw new BadRequestException(
        `${topic} is written by its own endpoint (ticker, notifications, chat, AI); publish to another topic`,
      );
    }
    return this.log.append({ topic, type, data });
  }

  stream(topics: readonly string[], lastEventId: string | undefined): Observable<SseEmission> {
    return logStreamEmissions(this.log, topics, lastEventId, (event) => this.message(event));
  }

  private readonly message = messagePerEvent((event): SseMessage => {
    const payload: TopicEventPayload = {
      id: event.id,
      topic: event.topic,
      type: event.type,
      data: event.data,
      timestamp: new Date(event.timestamp).toISOString(),
    };
    return { id: event.id, type: event.type, data: payload };
  });
}
