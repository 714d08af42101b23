import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnModuleDestroy,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ConnectionRegistry } from '../sse/connection-registry.service';
import { serializeMessage } from '../sse/sse-serializer';

/** Share of SHUTDOWN_GRACE_MS over which stream closes are spread; the rest is margin for the server to close. */
const SPREAD_SHARE = 0.5;

/**
 * Graceful shutdown (docs/protocol.md §5). On SIGTERM Nest runs the destroy hooks, then the
 * before-shutdown hooks, then closes the HTTP server:
 *
 * 1. onModuleDestroy: `draining` turns on at once, so /health/ready answers 503 and new stream
 *    requests get 503 + Retry-After while this instance still serves the ones it has.
 * 2. beforeApplicationShutdown: every open stream gets a last frame with a `retry:` hint drawn at
 *    random between SSE_RETRY_MS and twice that, and is ended. The ends are spread over the first
 *    half of SHUTDOWN_GRACE_MS (a signal) so the clients do not all reconnect to the other instances
 *    in the same instant; every stream is ended before the deadline.
 * 3. Nest then closes the server (forceCloseConnections) and the process exits 0.
 *
 * A programmatic close (app.close() without a signal: tests, embedding) ends every stream at once.
 */
@Injectable()
export class DrainService implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(DrainService.name);
  private drainingSince: number | undefined;

  constructor(
    private readonly registry: ConnectionRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Random source in [0, 1) for the jitter; specs replace it to make the jitter deterministic. */
  random: () => number = Math.random;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Stops taking new streams and reports not ready; the open streams keep going. Idempotent. */
  beginDrain(): void {
    if (this.drainingSince !== undefined) return;
    this.drainingSince = Date.now();
    this.registry.refuseNewStreams();
    this.logger.log(`draining: ${this.registry.size} open stream(s), readiness is now false`);
  }

  /**
   * Ends every open stream with a jittered `retry:` hint, spread over `spreadMs`, and resolves when
   * all are ended. Streams that open meanwhile (a handler that was already running) are ended too.
   */
  async drain(spreadMs: number): Promise<void> {
    this.beginDrain();
    const connections = this.registry.openConnections();
    const count = connections.length;
    if (count > 0 && spreadMs > 0) {
      const step = spreadMs / count;
      const timers: NodeJS.Timeout[] = [];
      await Promise.all(
        this.shuffled(connections).map(
          (connection, index) =>
            new Promise<void>((resolve) => {
              // Slot `index` of the window, at a random point inside the slot.
              const delay = Math.floor(step * (index + this.random()));
              timers.push(
                setTimeout(() => {
                  connection.end('shutdown', this.lastFrame());
                  resolve();
                }, delay),
              );
              connection.onClose(() => resolve());
            }),
        ),
      );
      timers.forEach(clearTimeout);
    }
    this.registry.closeAll(() => this.lastFrame());
    this.logger.log(
      `drained ${count} stream(s) in ${Date.now() - (this.drainingSince ?? Date.now())} ms`,
    );
  }

  /** The final frame of a stream: a reconnection delay between SSE_RETRY_MS and twice that. */
  lastFrame(): string {
    const base = this.config.sse.retryMs;
    const retry = base + Math.floor(this.random() * (base + 1));
    return serializeMessage({ comment: 'shutdown', retry });
  }

  onModuleDestroy(): void {
    this.beginDrain();
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const spreadMs = signal ? Math.floor(this.config.http.shutdownGraceMs * SPREAD_SHARE) : 0;
    await this.drain(spreadMs);
  }

  private shuffled<T>(items: T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}
