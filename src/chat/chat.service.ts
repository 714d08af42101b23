import { Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { EVENT_LOG, EventLog, LogEvent } from '../event-log/event-log';
import { logStreamEmissions, messagePerEvent } from '../sse/log-stream-emissions';
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

  private readonly message = messagePerEvent((event): SseMessage => {
    const record = event.data as ChatRecord;
    const payload: ChatMessagePayload = {
      type: 'message',
      roomId: record.roomId,
      user: record.user,
      text: record.text,
      timestamp: new Date(event.timestamp).toISOString(),
    };
    return { id: event.id, data: payload };
  });
}
