import { HttpStatus, NotFoundException } from '@nestjs/common';
import { loadConfig } from '../config/app-config';
import { InMemoryEventLog } from '../event-log/in-memory-event-log';
import { AiEvent, aiOwnerTopic, aiTopic } from './ai-events';
import { GenerationCancels } from './generation-cancels';

/** Two instances sharing one store: each has its own GenerationCancels on the same log. */
function setUp() {
  const log = new InMemoryEventLog(1000);
  const config = loadConfig({ AI_RETENTION_MS: '1000' });
  return {
    log,
    here: new GenerationCancels(log, config),
    there: new GenerationCancels(log, config),
  };
}

const append = (log: InMemoryEventLog, id: string, data: AiEvent) =>
  log.append<AiEvent>({ topic: aiTopic(id), type: data.type, data });

describe(GenerationCancels.name, () => {
  it('a cancel written by another instance reaches the watcher of the running one, once', async () => {
    const { log, here, there } = setUp();
    await append(log, 'g1', { type: 'start', generationId: 'g1' });
    await append(log, 'g2', { type: 'start', generationId: 'g2' });
    const seen: AiEvent[] = [];
    const unwatch = here.watch('g1', (event) => seen.push(event));
    await append(log, 'g1', { type: 'chunk', content: 'Hi' }); // not terminal: ignored
    expect(await there.cancelElsewhere('g2')).toBe('cancelled'); // another generation: ignored
    expect(seen).toEqual([]);

    expect(await there.cancelElsewhere('g1')).toBe('cancelled');
    expect(seen).toEqual([{ type: 'error', message: 'cancelled', reason: 'cancelled' }]);
    const { events } = await log.readAfter([aiTopic('g1')], undefined);
    expect(events.map((e) => e.type)).toEqual(['start', 'chunk', 'error']);

    unwatch();
    await append(log, 'g1', { type: 'done' });
    expect(seen).toHaveLength(1);
    expect(log.subscriberCount()).toBe(0);
    await log.close();
  });

  it('answers 404 for an unknown generation and `finished` for an ended one, writing nothing', async () => {
    const { log, there } = setUp();
    const refused = await there.cancelElsewhere('nope').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NotFoundException);
    expect((refused as NotFoundException).getStatus()).toBe(HttpStatus.NOT_FOUND);

    await append(log, 'g', { type: 'start', generationId: 'g' });
    await append(log, 'g', { type: 'done' });
    expect(await there.cancelElsewhere('g')).toBe('finished');
    const { events } = await log.readAfter([aiTopic('g'), aiTopic('nope')], undefined);
    expect(events.map((e) => e.type)).toEqual(['start', 'done']);
    await log.close();
  });

  it('a cancelled generation whose instance is gone still expires, owner record included', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const { log, there } = setUp();
      await append(log, 'g', { type: 'start', generationId: 'g' });
      await log.append({ topic: aiOwnerTopic('g'), type: 'owner', data: { owner: 'ann' } });
      await log.append({ topic: 'other', type: 'keep', data: {} }); // negative control
      await there.cancelElsewhere('g');
      const topics = [aiTopic('g'), aiOwnerTopic('g'), 'other'];
      expect((await log.readAfter(topics, undefined)).events).toHaveLength(4);
      await jest.advanceTimersByTimeAsync(1000);
      const left = (await log.readAfter(topics, undefined)).events;
      expect(left.map((e) => e.topic)).toEqual(['other']);
      await log.close();
    } finally {
      jest.useRealTimers();
    }
  });
});
