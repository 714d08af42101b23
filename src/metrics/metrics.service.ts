import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { MeteredEventLog } from '../event-log/metered-event-log';
import { DrainService } from '../lifecycle/drain.service';
import type { CloseReason } from '../sse/sse-connection';
import { ConnectionRegistry } from '../sse/connection-registry.service';

const CLOSE_REASONS: readonly CloseReason[] = [
  'client',
  'completed',
  'slow_consumer',
  'shutdown',
  'error',
];

/**
 * Prometheus metrics of this instance, on its own registry (several apps in one process, as in the
 * tests, never share series). The stream engine keeps plain integer counters (ConnectionRegistry.stats,
 * MeteredEventLog) that cost one increment per frame; they are copied into the exposition only when
 * /metrics is scraped, in each metric's collect(). Features register their own counters on `registry` (the AI module's AiMetrics).
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly seenKinds = new Set<string>();

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly log: MeteredEventLog,
    private readonly drain: DrainService,
  ) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const stats = connections.stats;
    const seenKinds = this.seenKinds;

    new Gauge({
      name: 'rivulet_sse_open_streams',
      help: 'Event streams open on this instance, by stream kind',
      labelNames: ['kind'],
      registers,
      collect() {
        const counts = connections.countByKind();
        for (const kind of Object.keys(counts)) seenKinds.add(kind);
        this.reset();
        for (const kind of seenKinds) this.set({ kind }, counts[kind] ?? 0);
      },
    });
    scrapedCounter(
      registers,
      'rivulet_sse_streams_opened_total',
      'Event streams opened',
      () => stats.opened,
    );
    new Counter({
      name: 'rivulet_sse_streams_closed_total',
      help: 'Event streams closed, by reason (client, completed, slow_consumer, shutdown, error)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const reason of CLOSE_REASONS) this.inc({ reason }, stats.closedBy[reason]);
      },
    });
    scrapedCounter(
      registers,
      'rivulet_sse_slow_consumer_disconnects_total',
      'Streams dropped because the client read too slowly (over SSE_MAX_BUFFER_BYTES unsent)',
      () => stats.closedBy.slow_consumer,
    );
    scrapedCounter(
      registers,
      'rivulet_sse_heartbeats_total',
      'Heartbeat comments written to quiet streams',
      () => stats.heartbeats,
    );
    scrapedCounter(
      registers,
      'rivulet_events_delivered_total',
      'Messages written to streams one at a time (live events and control messages)',
      () => stats.delivered,
    );
    scrapedCounter(
      registers,
      'rivulet_events_replayed_total',
      'Messages written to streams inside a replay batch (catch-up after Last-Event-ID)',
      () => stats.replayed,
    );
    scrapedCounter(
      registers,
      'rivulet_events_published_total',
      'Events appended to the event log by this instance',
      () => log.appended,
    );
    scrapedCounter(
      registers,
      'rivulet_event_log_append_failures_total',
      'Appends the event log store rejected',
      () => log.appendFailures,
    );
    new Gauge({
      name: 'rivulet_event_log_subscriptions',
      help: 'Live subscriptions this instance holds on the event log',
      registers,
      collect() {
        this.set(log.subscriberCount());
      },
    });
    new Gauge({
      name: 'rivulet_draining',
      help: '1 while this instance is shutting down (readiness false), else 0',
      registers,
      collect() {
        this.set(drain.draining ? 1 : 0);
      },
    });
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }
}

/** A counter whose value is an integer kept elsewhere, copied in when scraped. */
function scrapedCounter(
  registers: Registry[],
  name: string,
  help: string,
  read: () => number,
): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
