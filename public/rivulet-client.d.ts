/** Types of public/rivulet-client.js (an ES module served at /rivulet-client.js). */

export type StreamStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'paused' | 'closed';

export interface StatusChange {
  status: StreamStatus;
  /** Retry number since the last successful open (backoff retries). */
  attempt?: number;
  /** Delay before the next attempt, when one is scheduled. */
  delayMs?: number;
  /** 'connection lost' | 'backoff' | 'offline' | 'complete' | 'closed' | 'http error' */
  reason?: string;
  /** Set when the server refused the stream for good (4xx other than 408/425/429). */
  error?: RivuletHttpError;
}

/** One event as handlers receive it: `data` is parsed JSON when the data is JSON, else the string. */
export interface RivuletEvent<T = unknown> {
  /** The SSE event type (`message` unless the server sent `event:`). */
  type: string;
  data: T;
  /** The data text as received. */
  raw: string;
  /** The stream's Last-Event-ID after this event ('' until the server sent an id). */
  lastEventId: string;
}

export interface BackoffOptions {
  /** First retry ceiling, ms (500). */
  initialMs?: number;
  /** Cap, ms (30000). */
  maxMs?: number;
  /** Growth per attempt (2). */
  factor?: number;
}

export interface RivuletStreamOptions {
  /** localStorage key for the Last-Event-ID (default: the URL's path and query). */
  key?: string;
  /** Keep and send the Last-Event-ID (true). */
  resume?: boolean;
  /** Where the Last-Event-ID lives (localStorage); null keeps it in memory only. */
  storage?: Storage | null;
  backoff?: BackoffOptions;
  /** Random source for the jitter (Math.random). */
  random?: () => number;
  /** An event that ends the stream (e.g. typewriter `end`): the client closes instead of reconnecting. */
  isComplete?: (event: RivuletEvent) => boolean;
  withCredentials?: boolean;
  /** Connect in the constructor's microtask (true); false waits for connect(). */
  autoConnect?: boolean;
}

/** Events keyed by SSE event type, for typed handlers: `RivuletStream<{ notification: Note }>`. */
export type EventMap = Record<string, unknown>;

export declare class RivuletStream<Events extends EventMap = Record<string, unknown>> {
  constructor(url: string, options?: RivuletStreamOptions);
  readonly url: string;
  readonly key: string;
  readonly status: StreamStatus;
  /** The saved resume point ('' for none). */
  readonly lastEventId: string;
  /** True once an `isComplete` event arrived or the server answered 204. */
  readonly complete: boolean;
  on<K extends keyof Events & string>(type: K, handler: (event: RivuletEvent<Events[K]>) => void): () => void;
  on(type: string, handler: (event: RivuletEvent) => void): () => void;
  onStatus(handler: (change: StatusChange) => void): () => void;
  connect(): void;
  reconnect(): void;
  clearResumePoint(): void;
  close(): void;
}

export declare class RivuletHttpError extends Error {
  constructor(status: number, message: string, retryAfterMs: number | undefined);
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
}

/** One event from the wire, before JSON parsing. */
export interface ParsedSseEvent {
  type: string;
  data: string;
  lastEventId: string;
}

export declare class SseParser {
  constructor(
    onEvent: (event: ParsedSseEvent) => void,
    hooks?: { onComment?: (text: string) => void; onRetry?: (ms: number) => void },
  );
  lastEventId: string;
  push(chunk: Uint8Array | string): void;
  end(): void;
}

export interface FetchStreamOptions {
  method?: string;
  headers?: HeadersInit;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  /** Sent as the Last-Event-ID header. */
  lastEventId?: string;
  signal?: AbortSignal;
  credentials?: RequestCredentials;
  onOpen?: (response: Response) => void;
  onEvent?: (event: RivuletEvent) => void;
  onRetry?: (ms: number) => void;
}

export interface FetchStreamResult {
  /** 204: the stream was already complete. */
  status: number;
  lastEventId: string;
  events: number;
}

export declare function fetchEventStream(url: string, options?: FetchStreamOptions): Promise<FetchStreamResult>;

export declare function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;

/** One event of the multiplexed stream, unwrapped from its `{id, topic, type, data, timestamp}` envelope. */
export interface TopicEvent<T = unknown> {
  /** The event's log id ('' for a control message). */
  id: string;
  /** Its topic; null for a control message of the stream (`{"type":"reset","reason"}`), which every handler gets. */
  topic: string | null;
  /** The event's type (`message` unless published with another). */
  type: string;
  /** What was published (for a control message: the message itself). */
  data: T;
  /** When the event was appended (ISO 8601; '' for a control message). */
  timestamp: string;
  /** The shared stream's resume point after this event. */
  lastEventId: string;
}

/**
 * 'leader': this tab holds the one connection and hands events to the others; 'follower': another
 * tab does; 'solo': this tab has a stream of its own (share: false, or no Web Locks / BroadcastChannel).
 */
export type TabRole = 'leader' | 'follower' | 'solo';

export interface TopicsStatusChange extends StatusChange {
  role: TabRole;
}

export interface RivuletTopicsOptions {
  /** The multiplexed stream endpoint ('/api/events'). */
  url?: string;
  /** Share one connection between the tabs of this origin (true). false: this tab gets its own. */
  share?: boolean;
  /** Tabs with the same name share a stream (default: origin + url path + a hash of accessToken). */
  name?: string;
  /** Sent as `Authorization: Bearer`; tabs with different tokens never share a stream. */
  accessToken?: string;
  /** Extra request headers of the stream. */
  headers?: HeadersInit;
  withCredentials?: boolean;
  /** Resume point to start from (''): later events of the subscribed topics are replayed first. */
  lastEventId?: string;
  backoff?: BackoffOptions;
  random?: () => number;
}

/** Topics of GET /api/events on one connection per origin, shared across tabs (Web Locks leader, BroadcastChannel fan-out). */
export declare class RivuletTopics {
  constructor(options?: RivuletTopicsOptions);
  readonly url: string;
  readonly name: string;
  /** false when share: false was asked or the browser lacks Web Locks or BroadcastChannel. */
  readonly shared: boolean;
  readonly role: TabRole;
  readonly status: StreamStatus;
  /** The shared stream's resume point ('' before its first event). */
  readonly lastEventId: string;
  /** Events of these topics, in order, once each; returns the unsubscribe function. Throws on a bad topic name. */
  subscribe<T = unknown>(topics: string | string[], handler: (event: TopicEvent<T>) => void): () => void;
  onStatus(handler: (change: TopicsStatusChange) => void): () => void;
  /** Leaves the group; if this tab led, another tab takes the stream over from the same Last-Event-ID. */
  close(): void;
}
