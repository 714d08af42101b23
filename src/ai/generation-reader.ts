import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import {
  concat,
  defer,
  EMPTY,
  filter,
  from,
  map,
  Observable,
  of,
  switchMap,
  takeWhile,
} from 'rxjs';
import { compareIds, EVENT_LOG, EventLog, LogEvent } from '../event-log/event-log';
import { LogStreamItem, streamFromLog } from '../event-log/event-stream';
import { messagePerEvent } from '../sse/log-stream-emissions';
import { SSE_OPEN, sseBatch, SseEmission, SseMessage } from '../sse/sse-message';
import {
  AI_TOPIC_PREFIX,
  AiCharChunk,
  AiEvent,
  aiOwnerTopic,
  aiTopic,
  isTerminal,
  ownerIn,
  seedEntryIn,
  seedTopic,
  toWire,
} from './ai-events';
import { DetachGrace } from './detach-grace';
import type { Pace } from './dto/ai-chat.dto';

/** How many seed generations one confirming read of the log covers (see findByEvent). */
const CONFIRM_BATCH = 32;

/**
 * The seed URL's key for one asker's message: a digest of the owner (JWT `sub`; none in open
 * mode) and the message, so a reconnect looks up exactly the asker's own generations of that
 * text, directly (records do not keep prompts).
 */
export function promptKey(message: string, owner: string | undefined): string {
  return createHash('sha256')
    .update(owner === undefined ? '-' : `+${owner}`)
    .update('\0')
    .update(message)
    .digest('hex');
}

/**
 * The read side of generations, from the log alone (so any instance serves it): a generation's
 * events projected for a reader's pace, the seed lookup that finds the generation a seed reconnect
 * was reading, and the owner record.
 */
@Injectable()
export class GenerationReader {
  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    private readonly grace: DetachGrace,
  ) {}

  /** The owner recorded for a generation (aiOwnerTopic): undefined when unknown or ownerless. */
  async ownerOf(generationId: string): Promise<string | undefined> {
    const { events } = await this.log.readAfter([aiOwnerTopic(generationId)], undefined);
    return ownerIn(events[0]?.data);
  }

  /**
   * The seed generation of `key` (one asker, one message: promptKey) that holds event `eventId`, if
   * any, whichever instance runs it: how EventSource's own reconnect (same URL + Last-Event-ID)
   * finds the answer it was reading. One read of the asker's seed topic gives the candidates (an
   * entry is older than every event of its generation), newest first; the log confirms which one's
   * topic holds the event (ids of concurrent generations interleave). No scan of other generations.
   */
  async findByEvent(key: string, eventId: string): Promise<string | undefined> {
    const { events } = await this.log.readAfter([seedTopic(key)], undefined);
    const candidates: string[] = [];
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i]!;
      const entry = seedEntryIn(event.data);
      if (entry && compareIds(event.id, eventId) < 0) candidates.push(aiTopic(entry.generationId));
    }
    const before = previousId(eventId);
    for (let i = 0; i < candidates.length; i += CONFIRM_BATCH) {
      const batch = candidates.slice(i, i + CONFIRM_BATCH);
      // Only generations still writing at `eventId` have anything from there on: a cheap read.
      const { events: held } = await this.log.readAfter(batch, before);
      const match = held[0]?.id === eventId ? held[0] : undefined;
      if (match) return match.topic.slice(AI_TOPIC_PREFIX.length);
    }
    return undefined;
  }

  /**
   * A generation's events after `afterId` (all of them when undefined), then live ones; completes
   * after the (first) terminal event. Nothing in the log and not `runsHere()`: 404. Finished and
   * already read to its end: no emission at all (the engine answers 204, which stops EventSource).
   * A reader of a generation still running counts as one (DetachGrace) while it reads.
   */
  stream(
    generationId: string,
    afterId: string | undefined,
    pace: Pace,
    runsHere: () => boolean,
  ): Observable<SseEmission> {
    const topic = aiTopic(generationId);
    return defer(() => from(this.log.readAfter([topic], undefined))).pipe(
      switchMap(({ events }) => {
        if (events.length === 0 && !runsHere()) throw new NotFoundException('No such generation');
        const terminal = events.find((event) => isTerminal(event.data));
        if (afterId !== undefined && terminal && compareIds(afterId, terminal.id) >= 0) {
          return EMPTY;
        }
        const offset = pace === 'char' ? charsUpTo(events, afterId) : 0;
        const items = this.follow(topic, afterId, pace, offset, terminal !== undefined);
        if (terminal) return concat(of(SSE_OPEN), items);
        // A reader of a generation still running: the running instance keeps it alive for it.
        return concat(of(SSE_OPEN), this.grace.attended(generationId, items));
      }),
    );
  }

  private follow(
    topic: string,
    afterId: string | undefined,
    pace: Pace,
    offset: number,
    /**
     * The generation had ended when it was looked up: nothing more will come, so the stream ends
     * after the catch-up even if the catch-up no longer holds the terminal event (the topic expired
     * between the two reads), rather than wait for a live event forever.
     */
    ended: boolean,
  ): Observable<SseEmission> {
    let charIndex = offset;
    const toMessages = (event: LogEvent): SseMessage[] => {
      const data = event.data as AiEvent;
      if (pace === 'char' && data.type === 'chunk') {
        const chars = Array.from(data.content);
        return chars.map((content, i) => {
          const chunk: AiCharChunk = { type: 'chunk', content, index: charIndex++ };
          // Only the last character carries the event id: a resume point is always a whole chunk.
          return i === chars.length - 1 ? { id: event.id, data: chunk } : { data: chunk };
        });
      }
      return [this.messageOf(event)];
    };
    const toEmission = (
      item: LogStreamItem,
    ): { emission: SseEmission | undefined; terminal: boolean } => {
      if (item.kind === 'live') {
        const messages = toMessages(item.event);
        return {
          emission: messages.length === 1 ? messages[0] : sseBatch(messages),
          terminal: isTerminal(item.event.data),
        };
      }
      const messages: SseMessage[] = [];
      if (item.reset) messages.push({ data: { type: 'reset', reason: item.reset } });
      let terminal = false;
      for (const event of item.events) {
        messages.push(...toMessages(event));
        // The first terminal event ends the answer (a late write racing a cancel is never sent).
        if ((terminal = isTerminal(event.data))) break;
      }
      return {
        emission: messages.length > 0 ? sseBatch(messages) : undefined,
        terminal: terminal || ended,
      };
    };
    return streamFromLog(this.log, [topic], afterId, { replayAll: true }).pipe(
      map(toEmission),
      takeWhile((step) => !step.terminal, true),
      map((step) => step.emission),
      filter((emission): emission is SseEmission => emission !== undefined),
    );
  }

  /** A log event's message, built once and shared by every stream it is written to. */
  private readonly messageOf = messagePerEvent((event): SseMessage => ({
    id: event.id,
    data: toWire(event.data as AiEvent),
  }));
}

/** Characters of the answer up to and including event `afterId` (for `?pace=char` indexes). */
function charsUpTo(events: readonly LogEvent[], afterId: string | undefined): number {
  if (afterId === undefined) return 0;
  let count = 0;
  for (const event of events) {
    if (compareIds(event.id, afterId) > 0) break;
    const data = event.data as AiEvent;
    if (data.type === 'chunk') count += Array.from(data.content).length;
  }
  return count;
}

/** The id just before a decimal id (ids are a sequence), so a read "after" it starts at the id. */
function previousId(id: string): string | undefined {
  const value = BigInt(id);
  return value === 0n ? undefined : (value - 1n).toString();
}
