import { Inject, Injectable } from '@nestjs/common';
import { concat, defer, map, NEVER, Observable, of, share } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ConnectionRegistry } from '../sse/connection-registry.service';
import { SSE_OPEN, SseEmission, SseMessage } from '../sse/sse-message';
import { SystemSampler } from './system-sample';

/**
 * GET /api/monitor: server figures every MONITOR_INTERVAL_MS, live only (no ids). One shared sampler:
 * a single timer, started by the first subscriber and stopped when the last one leaves, produces one
 * message per tick that every monitor connection writes (serialized once). A new connection gets a
 * sample of its own at once. MONITOR_INTERVAL_MS=0 turns the timer off: each connection gets its
 * first sample only, and the stream stays open (heartbeats) so EventSource does not poll.
 */
@Injectable()
export class MonitorService {
  private readonly sampler = new SystemSampler(process.cwd());
  private readonly ticks: Observable<SseMessage>;
  private timerRunning = false;

  constructor(
    private readonly registry: ConnectionRegistry,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const interval = config.streams.monitorIntervalMs;
    this.ticks =
      interval > 0
        ? this.timer(interval).pipe(
            map(() => this.sample()),
            share(),
          )
        : NEVER;
  }

  /** Whether the shared timer is running (it runs only while a monitor stream is open). */
  get sampling(): boolean {
    return this.timerRunning;
  }

  stream(): Observable<SseEmission> {
    // The connection is registered once SSE_OPEN is written, so the first sample counts it.
    return concat(
      of(SSE_OPEN),
      defer(() => of(this.sample())),
      this.ticks,
    );
  }

  private timer(interval: number): Observable<void> {
    return new Observable<void>((subscriber) => {
      this.timerRunning = true;
      const handle = setInterval(() => subscriber.next(), interval);
      return () => {
        clearInterval(handle);
        this.timerRunning = false;
      };
    });
  }

  sample(): SseMessage {
    return {
      data: this.sampler.sample({ total: this.registry.size, byKind: this.registry.countByKind() }),
    };
  }
}
