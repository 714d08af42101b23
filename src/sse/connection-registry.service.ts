import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { CloseReason, SseConnection } from './sse-connection';
import { commentFrame } from './sse-serializer';

const HEARTBEAT_FRAME = commentFrame('ping');

/** Plain counters, cheap to bump on the hot path; /metrics reads them when scraped. */
export interface ConnectionStats {
  opened: number;
  closedBy: Record<CloseReason, number>;
  heartbeats: number;
  /** Messages written to streams one by one (live events and control messages). */
  delivered: number;
  /** Messages written inside a batch (a replay). */
  replayed: number;
}

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
}

/** Which limit refused a stream: the instance's (MAX_CONNECTIONS) or the address's. */
export type AdmissionRefusal = 'instance' | 'ip';

/** A slot held by an admitted stream request (see ConnectionRegistry.reserve). */
export interface Reservation {
  readonly ip: string;
  /** Gives the slot back (idempotent; a no-op once claimed). */
  release(): void;
  /** Hands the slot to the opening stream; false when it was already released. */
  claim(): boolean;
}

/**
 * Every open event stream of this instance, with one shared timer for all of them: it keeps a coarse
 * clock for the connections and writes `: ping` to each stream quiet for SSE_HEARTBEAT_MS.
 */
@Injectable()
export class ConnectionRegistry implements OnModuleDestroy {
  private readonly connections = new Set<SseConnection>();
  private readonly byKind = new Map<string, number>();
  private readonly byIp = new Map<string, number>();
  /** Slots taken at admission by requests whose stream is not open yet (see reserve). */
  private reserved = 0;
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  /** Set when the instance starts draining (DrainService): admission refuses new streams. */
  draining = false;
  /** Coarse "now" in ms, refreshed by the shared tick; cheap to read on every write. */
  now = Date.now();
  readonly stats: ConnectionStats = {
    opened: 0,
    closedBy: { client: 0, completed: 0, slow_consumer: 0, shutdown: 0, error: 0 },
    heartbeats: 0,
    delivered: 0,
    replayed: 0,
  };

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** From now on new streams are refused (503), open ones keep going until the drain ends them. */
  refuseNewStreams(): void {
    this.draining = true;
  }

  get size(): number {
    return this.connections.size;
  }

  countByKind(): Record<string, number> {
    return Object.fromEntries(this.byKind);
  }

  /** A snapshot of the open streams (graceful shutdown ends them one by one). */
  openConnections(): SseConnection[] {
    return [...this.connections];
  }

  /** Open streams plus admitted requests still on their way to opening one, from this address. */
  countForIp(ip: string): number {
    return this.byIp.get(ip) ?? 0;
  }

  /**
   * Takes a slot for a stream request at admission, before its handler runs (asynchronous auth, a
   * store read): the check and the count happen in one synchronous step, so no number of concurrent
   * requests can get past a limit. The slot counts against both limits until it is released
   * (refused, failed, answered without a stream) or becomes the stream's connection (open).
   */
  reserve(ip: string, limits: AdmissionLimits): Reservation | AdmissionRefusal {
    if (this.connections.size + this.reserved >= limits.maxConnections) return 'instance';
    if (this.countForIp(ip) >= limits.maxConnectionsPerIp) return 'ip';
    this.reserved++;
    this.byIp.set(ip, this.countForIp(ip) + 1);
    let held = true;
    return {
      ip,
      release: () => {
        if (!held) return;
        held = false;
        this.reserved--;
        decrement(this.byIp, ip);
      },
      claim: () => {
        if (!held) return false;
        held = false;
        this.reserved--;
        return true;
      },
    };
  }

  /** Opens a stream; with a reservation, the stream takes over its slot (counted once). */
  open(res: ServerResponse, kind: string, ip: string, reservation?: Reservation): SseConnection {
    const connection = new SseConnection(
      this.nextId++,
      kind,
      ip,
      res,
      this.config.sse.maxBufferBytes,
      this.clock(),
    );
    this.connections.add(connection);
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    if (!reservation?.claim()) this.byIp.set(ip, (this.byIp.get(ip) ?? 0) + 1);
    this.stats.opened++;
    connection.setClosedListener(this);
    this.ensureTicking();
    return connection;
  }

  /** Fresh time for a write; also moves the coarse clock forward. */
  clock(): number {
    this.now = Date.now();
    return this.now;
  }

  /** Ends every stream with a reconnection hint (graceful shutdown). */
  closeAll(lastFrame: (connection: SseConnection) => string): void {
    for (const connection of [...this.connections])
      connection.end('shutdown', lastFrame(connection));
  }

  /** One pass of the shared timer; public so tests can drive it with fake timers. */
  tick(): void {
    const now = this.clock();
    const quietSince = now - this.config.sse.heartbeatMs;
    for (const connection of this.connections) {
      if (connection.lastWriteAt <= quietSince) {
        connection.send(HEARTBEAT_FRAME, now);
        this.stats.heartbeats++;
      }
    }
  }

  onModuleDestroy(): void {
    this.stopTicking();
  }

  /** A connection of this registry closed (SseConnection calls this once). */
  connectionClosed(connection: SseConnection, reason: CloseReason): void {
    if (!this.connections.delete(connection)) return;
    this.stats.closedBy[reason]++;
    decrement(this.byKind, connection.kind);
    decrement(this.byIp, connection.ip);
    if (this.connections.size === 0) this.stopTicking();
  }

  private ensureTicking(): void {
    if (this.timer) return;
    // A quarter of the heartbeat: a quiet stream is pinged between 1x and 1.25x SSE_HEARTBEAT_MS.
    const period = Math.max(25, Math.floor(this.config.sse.heartbeatMs / 4));
    this.timer = setInterval(() => this.tick(), period);
    this.timer.unref();
  }

  private stopTicking(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 0) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}
