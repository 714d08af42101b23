import { NotFoundException } from '@nestjs/common';
import { firstValueFrom, lastValueFrom, Observable, toArray } from 'rxjs';
import { loadConfig } from '../config/app-config';
import { InMemoryEventLog } from '../event-log/in-memory-event-log';
import { batchMessages, isSseBatch, isSseOpen, SseEmission, SseMessage } from '../sse/sse-message';
import { AiEvent, aiOwnerTopic, aiTopic, seedTopic } from './ai-events';
import { DetachGrace } from './detach-grace';
import { GenerationReader, promptKey } from './generation-reader';
import { InMemoryReaderPresence } from './reader-presence';

function setUp() {
  const log = new InMemoryEventLog(1000);
  const presence = new InMemoryReaderPresence(1000);
  const grace = new DetachGrace(presence, loadConfig({}));
  return { log, presence, reader: new GenerationReader(log, grace) };
}

/** Writes a generation's events as the running instance does; returns their ids. */
async function write(log: InMemoryEventLog, id: string, events: AiEvent[]): Promise<string[]> {
  const ids: string[] = [];
  for (const data of events) {
    ids.push((await log.append<AiEvent>({ topic: aiTopic(id), type: data.type, data })).id);
  }
  return ids;
}

/** The messages of one emission (SSE_OPEN as 'open'). */
const messagesOf = (e: SseEmission): (SseMessage | 'open')[] =>
  isSseOpen(e) ? ['open'] : isSseBatch(e) ? [...batchMessages(e)] : [e];

/** What a stream sent, message by message. */
async function sent(stream: Observable<SseEmission>): Promise<(SseMessage | 'open')[]> {
  return (await lastValueFrom(stream.pipe(toArray()))).flatMap(messagesOf);
}

const never = () => false;
const answer: AiEvent[] = [
  { type: 'start', generationId: 'g' },
  { type: 'chunk', content: 'Hé' },
  { type: 'chunk', content: 'y!' },
  { type: 'done' },
];

describe(GenerationReader.name, () => {
  it('replays a finished answer chunk by chunk, each with its event id, and completes', async () => {
    const { log, reader } = setUp();
    const ids = await write(log, 'g', answer);
    expect(await sent(reader.stream('g', undefined, 'chunk', never))).toEqual([
      'open',
      ...answer.map((data, i) => ({ id: ids[i], data })),
    ]);
    await log.close();
  });

  it('`char` pace: one message per character, indexes across chunks, the id on the last one only', async () => {
    const { log, reader } = setUp();
    const ids = await write(log, 'g', answer);
    const messages = await sent(reader.stream('g', undefined, 'char', never));
    expect(messages).toEqual([
      'open',
      { id: ids[0], data: answer[0] },
      { data: { type: 'chunk', content: 'H', index: 0 } },
      { id: ids[1], data: { type: 'chunk', content: 'é', index: 1 } },
      { data: { type: 'chunk', content: 'y', index: 2 } },
      { id: ids[2], data: { type: 'chunk', content: '!', index: 3 } },
      { id: ids[3], data: { type: 'done' } },
    ]);
    // Resumed after the first chunk: indexes go on from where the reader was.
    expect(await sent(reader.stream('g', ids[1], 'char', never))).toEqual([
      'open',
      { data: { type: 'chunk', content: 'y', index: 2 } },
      { id: ids[2], data: { type: 'chunk', content: '!', index: 3 } },
      { id: ids[3], data: { type: 'done' } },
    ]);
    await log.close();
  });

  it('sends nothing at all to a reader already at the end; 404 for a generation nobody has', async () => {
    const { log, reader } = setUp();
    const ids = await write(log, 'g', answer);
    expect(await sent(reader.stream('g', ids[3], 'chunk', never))).toEqual([]);
    // Negative control: one event earlier, the end is still to come.
    expect(await sent(reader.stream('g', ids[2], 'chunk', never))).toEqual([
      'open',
      { id: ids[3], data: { type: 'done' } },
    ]);
    await expect(lastValueFrom(reader.stream('nope', undefined, 'chunk', never))).rejects.toThrow(
      NotFoundException,
    );
    await log.close();
  });

  it('follows a running answer live, counts its reader, and stops at the first terminal event', async () => {
    const { log, presence, reader } = setUp();
    // Started here but nothing written yet: no 404.
    const stream = reader.stream('g', undefined, 'chunk', () => true);
    const received: (SseMessage | 'open')[] = [];
    const done = new Promise<void>((resolve, reject) =>
      stream.subscribe({
        next: (e) => received.push(...messagesOf(e)),
        error: reject,
        complete: resolve,
      }),
    );
    await new Promise(setImmediate);
    expect(presence.localReaders('g')).toBe(1);
    await write(log, 'g', [
      { type: 'start', generationId: 'g' },
      { type: 'chunk', content: 'live' },
      { type: 'error', message: 'cancelled', reason: 'cancelled' },
      { type: 'chunk', content: 'late' }, // a write racing the cancel: never sent
    ]);
    await done;
    expect(received.map((m) => (m === 'open' ? m : (m.data as AiEvent).type))).toEqual([
      'open',
      'start',
      'chunk',
      'error',
    ]);
    expect(presence.localReaders('g')).toBe(0);
    expect(log.subscriberCount()).toBe(0);
    await log.close();
  });

  it('a reader of a finished answer is not counted as a reader', async () => {
    const { log, presence, reader } = setUp();
    await write(log, 'g', answer);
    const first = await firstValueFrom(reader.stream('g', undefined, 'chunk', never));
    expect(isSseOpen(first)).toBe(true);
    expect(presence.localReaders('g')).toBe(0);
    await log.close();
  });

  it('seed lookup: finds which of one asker’s generations of a message holds an event', async () => {
    const { log, reader } = setUp();
    const key = promptKey('count to three', 'ann');
    expect(key).not.toBe(promptKey('count to three', 'bob'));
    expect(key).not.toBe(promptKey('count to three', undefined));
    const entry = (id: string) =>
      log.append({ topic: seedTopic(key), type: 'generation', data: { generationId: id } });
    // Two generations of the same message, their events interleaved.
    await entry('a');
    await entry('b');
    const [a1, b1] = [
      ...(await write(log, 'a', [answer[0]!])),
      ...(await write(log, 'b', [answer[0]!])),
    ];
    const [a3] = await write(log, 'a', [answer[1]!]);
    const [b2] = await write(log, 'b', [answer[1]!]);
    expect(await reader.findByEvent(key, a1!)).toBe('a');
    expect(await reader.findByEvent(key, b1!)).toBe('b');
    expect(await reader.findByEvent(key, a3!)).toBe('a');
    expect(await reader.findByEvent(key, b2!)).toBe('b');
    // Another asker's key, or an event of no seed generation: nothing.
    expect(await reader.findByEvent(promptKey('count to three', 'bob'), a3!)).toBeUndefined();
    const [other] = await write(log, 'x', [answer[0]!]);
    expect(await reader.findByEvent(key, other!)).toBeUndefined();
    await log.close();
  });

  it('reads the owner record', async () => {
    const { log, reader } = setUp();
    await log.append({ topic: aiOwnerTopic('g'), type: 'owner', data: { owner: 'ann' } });
    expect(await reader.ownerOf('g')).toBe('ann');
    expect(await reader.ownerOf('h')).toBeUndefined();
    await log.close();
  });
});
