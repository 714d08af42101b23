import { Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { EVENT_LOG, EventLog } from '../event-log/event-log';
import { logStreamEmissions, messagePerEvent } from '../sse/log-stream-emissions';
import { SseEmission, SseMessage } from '../sse/sse-message';
import { BROADCAST_TOPIC, userTopic } from '../common/topic-names';
import {
  NotificationPayload,
  NotificationRecord,
  SendNotificationDto,
} from './dto/send-notification.dto';

export const NOTIFICATION_TYPE = 'notification';

/**
 * Notifications are log events on `user:<id>` (one user) and `broadcast` (everyone). A user's stream
 * carries both, so a Last-Event-ID resumes both: what was sent while the user was offline arrives
 * on reconnect, as long as it is within retention.
 */
@Injectable()
export class NotificationsService {
  constructor(@Inject(EVENT_LOG) private readonly log: EventLog) {}

  /** The topics one notification is written to. */
  targets(dto: SendNotificationDto): string[] {
    if (dto.userId !== undefined) return [userTopic(dto.userId)];
    if (dto.userIds !== undefined) return [...new Set(dto.userIds)].map(userTopic);
    return [BROADCAST_TOPIC];
  }

  /** One event per target topic, in order; returns their ids. */
  async send(topics: readonly string[], dto: SendNotificationDto): Promise<string[]> {
    const record: NotificationRecord = { title: dto.title, body: dto.body };
    if (dto.data !== undefined) record.data = dto.data;
    const ids: string[] = [];
    for (const topic of topics) {
      const event = await this.log.append({ topic, type: NOTIFICATION_TYPE, data: record });
      ids.push(event.id);
    }
    return ids;
  }

  /** The stream of `userId` (undefined: broadcasts only). */
  stream(userId: string | undefined, lastEventId: string | undefined): Observable<SseEmission> {
    const topics = userId === undefined ? [BROADCAST_TOPIC] : [userTopic(userId), BROADCAST_TOPIC];
    return logStreamEmissions(this.log, topics, lastEventId, (event) => this.message(event));
  }

  private readonly message = messagePerEvent((event): SseMessage => {
    const record = event.data as NotificationRecord;
    const payload: NotificationPayload = {
      type: 'notification',
      id: event.id,
      title: record.title,
      body: record.body,
      timestamp: new Date(event.timestamp).toISOString(),
    };
    if (record.data !== undefined) payload.data = record.data;
    return { id: event.id, type: NOTIFICATION_TYPE, data: payload };
  });
}
