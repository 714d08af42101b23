import { Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { EVENT_LOG, EventLog, LogEvent } from '../event-log/event-log';
import { logStreamEmissions } from '../event-log/log-stream-emissions';
import { SseEmission, SseMessage } from '../sse/sse-message';
import { ChatMessageDto, ChatMessagePayload, roomTopic } from './dto/chat-message.dto';

/** What a chat event holds in the log (topic `chat:<roomId>`). */
interface ChatRecord {
  roomId: string;
  user: string;
  text: string;
}

/** Chat rooms on the event log: a message is an event of `chat:<roomId>`, so reconnects replay. */
@Injectable()
export class ChatService {
  private readonly messages = new WeakMap<LogEvent, SseMessage>();

  constructor(@Inject(EVENT_LOG) private readonly log: EventLog) {}

  async post(roomId: string, dto: ChatMessageDto): Promise<LogEvent> {
    const record: ChatRecord = { roomId, user: dto.user, text: dto.text };
    return this.log.append({ topic: roomTopic(roomId), type: 'message', data: record });
  }

  stream(roomId: string, lastEventId: string | undefined): Observable<SseEmission> {
    return logStreamEmissions(this.log, [roomTopic(roomId)], lastEventId, (event) =>
      this.message(event),
    );
  }

  private message(event: LogEvent): SseMessage {
    let message = this.messages.get(event);
    if (!message) {
      const record = event.data as ChatRecord;
      const payload: ChatMessagePayload = {
        type: 'message',
        roomId: record.roomId,
        user: record.user,
        text: record.text,
        timestamp: new Date(event.timestamp).toISOString(),
      };
      message = { id: event.id, data: payload };
      this.messages.set(event, message);
    }
    return message;
  }
}
