import { HttpStatus } from '@nestjs/common';
import { lastValueFrom, toArray } from 'rxjs';
import { loadConfig } from '../config/app-config';
import { StoreUnavailableError } from '../event-log/event-log';
import { InMemoryEventLog } from '../event-log/in-memory-event-log';
import { MeteredEventLog } from '../event-log/metered-event-log';
import { DrainService } from '../lifecycle/drain.service';
import { MetricsService } from '../metrics/metrics.service';
import { RetryableHttpException } from '../common/retryable.exception';
import { ConnectionRegistry } from '../sse/connection-registry.service';
import { AiEvent, aiTopic } from './ai-events';
import { AiMetrics } from './ai-metrics';
import { DetachGrace } from './detach-grace';
import { GenerationAdmission } from './generation-admission';
import { GenerationCancels } from './generation-cancels';
import { GenerationReader } from './generation-reader';
import { GenerationService } from './generation.service';
import { DemoAiProvider } from './providers/demo-ai.provider';
import { InMemoryReaderPresence } from './reader-presence';

const hello = [{ role: 'user' as const, content: 'hello' }];

/**
 * One instance's GenerationService, wired as AiModule wires it, on a shared log: the demo model
 * (one token every `tokenMs`), in-memory reader presence, real metrics.
 */
function instance(log: InMemoryEventLog, env: Record<string, string> = {}, tokenMs = 0) {
  const config = loadConfig({ AI_MAX_GENERATIONS_PER_USER: '1', ...env });
  const connections = new ConnectionRegistry(config);
  const metricsService = new MetricsService(
    connections,
    new MeteredEventLog(log),
    new DrainService(connections, config),
  );
  const presence = new InMemoryReaderPresence(config.ai.detachGraceMs);
  const grace = new DetachGrace(presence, config);
  const service = new GenerationService(
    log,
    new DemoAiProvider(tokenMs),
    config,
    new AiMetrics(metricsService),
    new GenerationAdmission(config),
    new GenerationCancels(log, config),
    grace,
    new GenerationReader(log, grace),
  );
  const metric = async (name: string) =>
    (await metricsService.registry.getSingleMetric(name)?.get())?.values
      .filter((v) => v.value > 0)
      .map((v) => `${Object.values(v.labels).join(',')}=${v.value}`);
  const close = async () => {
    service.onModuleDestroy();
    metricsService.onModuleDestroy();
    connections.onModuleDestroy();
    await presence.close();
  };
  return { service, metric, close };
}

async function topicOf(log: InMemoryEventLog, id: string): Promise<AiEvent[]> {
  const { events } = await log.readAfter([aiTopic(id)], undefined);
  return events.map((event) => event.data as AiEvent);
}

describe(GenerationService.name, () => {
  it('runs an answer to its end in the log, then gives its place back', async () => {
    const log = new InMemoryEventLog(1000);
    const a = instance(log);
    const id = await a.service.start(hello, { owner: 'ann' });
    expect(a.service.runningCount).toBe(1);
    expect(await a.service.ownerOf(id)).toBe('ann');
    await lastValueFrom(a.service.stream(id, undefined, 'chunk').pipe(toArray()));
    const events = await topicOf(log, id);
    expect(events[0]).toEqual({ type: 'start', generationId: id });
    expect(events.at(-1)).toEqual({ type: 'done' });
    expect(events.filter((e) => e.type === 'chunk').length).toBeGreaterThan(1);
    expect(a.service.runningCount).toBe(0);
    expect(await a.metric('rivulet_ai_generations_total')).toEqual(['completed=1']);
    expect(await a.service.cancel(id)).toBe('finished');
    await a.close();
    await log.close();
  });

  it('a cancel taken by another instance stops the one that runs it: one terminal event', async () => {
    const log = new InMemoryEventLog(1000);
    const a = instance(log, {}, 60_000); // a model that would take a minute per token
    const b = instance(log);
    const id = await a.service.start(hello, { owner: 'ann' });
    expect(await b.service.cancel(id)).toBe('cancelled');
    expect(a.service.runningCount).toBe(0);
    expect(await topicOf(log, id)).toEqual([
      { type: 'start', generationId: id },
      { type: 'error', message: 'cancelled', reason: 'cancelled' },
    ]);
    expect(await a.metric('rivulet_ai_aborts_total')).toEqual(['cancelled=1']);
    expect(await a.metric('rivulet_ai_generations_total')).toEqual(['aborted=1']);
    // The owner record outlives the run here: B and A both answer from the log.
    expect(await b.service.ownerOf(id)).toBe('ann');
    expect(await a.service.cancel(id)).toBe('finished');
    await a.close();
    await b.close();
    await log.close();
  });

  it('abandons a generation nobody reads once the detach grace has passed', async () => {
    const log = new InMemoryEventLog(1000);
    const a = instance(log, { AI_DETACH_GRACE_MS: '0' }, 60_000);
    const id = await a.service.start(hello);
    const read = await lastValueFrom(a.service.stream(id, undefined, 'chunk').pipe(toArray()));
    expect(read.length).toBeGreaterThan(0);
    expect((await topicOf(log, id)).at(-1)).toEqual({
      type: 'error',
      message: 'abandoned',
      reason: 'abandoned',
    });
    expect(await a.metric('rivulet_ai_aborts_total')).toEqual(['detached=1']);
    await a.close();
    await log.close();
  });

  it('a start the store refuses fails and gives its place back', async () => {
    const log = new InMemoryEventLog(1000);
    const a = instance(log);
    // The store refuses the first write of the start (the owner record).
    jest.spyOn(log, 'append').mockRejectedValueOnce(new StoreUnavailableError('store down'));
    await expect(a.service.start(hello, { owner: 'ann' })).rejects.toThrow(StoreUnavailableError);
    expect(a.service.runningCount).toBe(0);
    const id = await a.service.start(hello, { owner: 'ann' });
    // Negative control: the one place of `ann` is taken now.
    const refused = await a.service.start(hello, { owner: 'ann' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RetryableHttpException);
    expect((refused as RetryableHttpException).getStatus()).toBe(HttpStatus.TOO_MANY_REQUESTS);
    await lastValueFrom(a.service.stream(id, undefined, 'chunk').pipe(toArray()));
    await a.close();
    await log.close();
  });

  it('shutdown ends every running generation with `shutdown`', async () => {
    const log = new InMemoryEventLog(1000);
    const a = instance(log, { AI_MAX_GENERATIONS_PER_USER: '5' }, 60_000);
    const ids = [await a.service.start(hello), await a.service.start(hello)];
    const reads = ids.map((id) =>
      lastValueFrom(a.service.stream(id, undefined, 'chunk').pipe(toArray())),
    );
    a.service.onModuleDestroy();
    await Promise.all(reads);
    for (const id of ids)
      expect((await topicOf(log, id)).at(-1)).toEqual({
        type: 'error',
        message: 'shutdown',
        reason: 'shutdown',
      });
    expect(a.service.runningCount).toBe(0);
    await a.close();
    await log.close();
  });
});
