// @ts-check
/**
 * Rivulet browser client: resumable Server-Sent Events over EventSource (GET streams) and over
 * fetch + ReadableStream (POST streams such as the AI chat). No dependencies, no build step.
 * RivuletTopics shares one multiplexed stream between the tabs of an origin.
 * Types: rivulet-client.d.ts. Guide: docs/client.md.
 */

/** @typedef {import('./rivulet-client').StreamStatus} StreamStatus */
/** @typedef {import('./rivulet-client').StatusChange} StatusChange */
/** @typedef {import('./rivulet-client').RivuletEvent} RivuletEvent */
/** @typedef {import('./rivulet-client').RivuletStreamOptions} RivuletStreamOptions */
/** @typedef {import('./rivulet-client').BackoffOptions} BackoffOptions */
/** @typedef {import('./rivulet-client').ParsedSseEvent} ParsedSseEvent */
/** @typedef {import('./rivulet-client').FetchStreamOptions} FetchStreamOptions */
/** @typedef {import('./rivulet-client').FetchStreamResult} FetchStreamResult */

const STORAGE_PREFIX = 'rivulet:last-event-id:';

/** @type {Required<BackoffOptions>} */
const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000, factor: 2 };

/**
 * Exponential backoff with full jitter: a random delay in [0, min(max, initial * factor^attempt)].
 * @param {number} attempt 0 for the first retry
 * @param {BackoffOptions} [options]
 * @param {() => number} [random]
 * @returns {number}
 */
export function backoffDelay(attempt, options = {}, random = Math.random) {
  const { initialMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...options };
  const ceiling = Math.min(maxMs, initialMs * Math.pow(factor, Math.max(0, attempt)));
  return Math.round(random() * ceiling);
}

/** An HTTP error answered before a stream started (the contract's JSON `{statusCode, error, message}`). */
export class RivuletHttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {number | undefined} retryAfterMs
   */
  constructor(status, message, retryAfterMs) {
    super(message);
    this.name = 'RivuletHttpError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /** 408, 425, 429 and 5xx are worth retrying; other 4xx will not get better by themselves. */
  get retryable() {
    return this.status === 408 || this.status === 425 || this.status === 429 || this.status >= 500;
  }
}

/**
 * Incremental parser for the text/event-stream format (WHATWG HTML, "Parsing an event stream"):
 * lines end with CRLF, LF or CR (also split across chunks); `:` starts a comment; `data` lines
 * accumulate with LF; `id` sets the last event id (persisting across events, ignored if it holds
 * NUL); `retry` takes only ASCII digits; an empty line dispatches; an event with no data is not
 * dispatched; a BOM at the very start is dropped; a partial event at the end of input is discarded.
 */
export class SseParser {
  /**
   * @param {(event: ParsedSseEvent) => void} onEvent
   * @param {{ onComment?: (text: string) => void, onRetry?: (ms: number) => void }} [hooks]
   */
  constructor(onEvent, hooks = {}) {
    this.onEvent = onEvent;
    this.hooks = hooks;
    this.decoder = new TextDecoder('utf-8');
    this.buffer = '';
    this.started = false;
    this.skipLeadingLf = false;
    this.data = '';
    this.hasData = false;
    this.type = '';
    /** The last event id buffer: survives dispatches, like EventSource's. */
    this.lastEventId = '';
  }

  /** @param {Uint8Array | string} chunk */
  push(chunk) {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLeadingLf && text.length > 0) {
      if (text[0] === '\n') text = text.slice(1);
      this.skipLeadingLf = false;
    }
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== '\n' && ch !== '\r') continue;
      this.line(this.buffer.slice(start, i));
      if (ch === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') i++;
        } else {
          this.skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  /** End of input: flush the decoder; an event not terminated by a blank line is discarded. */
  end() {
    const rest = this.decoder.decode();
    if (rest) this.push(rest);
    this.buffer = '';
    this.data = '';
    this.hasData = false;
    this.type = '';
  }

  /** @param {string} line */
  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line[0] === ':') {
      this.hooks.onComment?.(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data += value + '\n';
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.hooks.onRetry?.(Number(value));
        break;
      default:
        break;
    }
  }

  dispatch() {
    if (!this.hasData) {
      this.type = '';
      return;
    }
    const event = {
      type: this.type || 'message',
      data: this.data.slice(0, -1),
      lastEventId: this.lastEventId,
    };
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.onEvent(event);
  }
}

/** @param {string} text @returns {unknown} */
function parseData(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * @param {Response} response
 * @returns {Promise<RivuletHttpError>}
 */
async function httpErrorOf(response) {
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && typeof body.message === 'string') message = body.message;
    else if (body && Array.isArray(body.message)) message = body.message.join('; ');
  } catch {
    // Not JSON: keep the status line.
  }
  const retryAfter = Number(response.headers.get('Retry-After'));
  return new RivuletHttpError(
    response.status,
    message,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
  );
}

/**
 * Reads one SSE response from fetch (any method, any headers: POST bodies, `Last-Event-ID`,
 * `Authorization`). Resolves when the server ends the body; `204` resolves with `status: 204`
 * (the stream is complete); any other non-2xx rejects with a RivuletHttpError.
 * @param {string} url
 * @param {FetchStreamOptions} [options]
 * @returns {Promise<FetchStreamResult>}
 */
export async function fetchEventStream(url, options = {}) {
  const headers = new Headers(options.headers);
  headers.set('Accept', 'text/event-stream');
  if (options.lastEventId) headers.set('Last-Event-ID', options.lastEventId);
  let body = options.body;
  if (body !== undefined && typeof body !== 'string') {
    body = JSON.stringify(body);
    if (!headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  }
  const response = await fetch(url, {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    signal: options.signal,
    cache: 'no-store',
    credentials: options.credentials ?? 'same-origin',
  });
  if (response.status === 204) return { status: 204, lastEventId: options.lastEventId ?? '', events: 0 };
  if (!response.ok) throw await httpErrorOf(response);
  if (!response.body) throw new Error('This browser cannot stream fetch responses');
  options.onOpen?.(response);
  let events = 0;
  const parser = new SseParser(
    (raw) => {
      events++;
      options.onEvent?.({ ...raw, data: parseData(raw.data), raw: raw.data });
    },
    { onRetry: options.onRetry },
  );
  if (options.lastEventId) parser.lastEventId = options.lastEventId;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  parser.end();
  return { status: response.status, lastEventId: parser.lastEventId, events };
}

/**
 * A resumable GET stream over EventSource.
 *
 * EventSource already reconnects by itself when a connection drops (after the server's `retry:`),
 * sending `Last-Event-ID`. It gives up (readyState CLOSED) on an HTTP error or a `204`; then this
 * client asks the server why (a short fetch of the same URL): `204` means the stream is complete
 * and it stays closed; a non-retryable 4xx closes it with the error; anything else (5xx, 429, 503,
 * network down) reopens it after an exponential backoff with full jitter, resuming from the saved
 * Last-Event-ID with `?lastEventId=` (a new EventSource cannot set headers). The Last-Event-ID is
 * kept in localStorage per stream key, so a page reload resumes too. Offline pauses the stream,
 * online resumes it.
 */
export class RivuletStream {
  /**
   * @param {string} url
   * @param {RivuletStreamOptions} [options]
   */
  constructor(url, options = {}) {
    this.url = url;
    this.options = options;
    this.key = options.key ?? new URL(url, location.href).pathname + new URL(url, location.href).search;
    /** @type {Storage | null} */
    this.storage = options.storage === undefined ? safeLocalStorage() : options.storage;
    /** @type {StreamStatus} */
    this.status = 'idle';
    this.attempt = 0;
    this.complete = false;
    /** @type {EventSource | null} */
    this.source = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** @type {AbortController | null} */
    this.probe = null;
    /** @type {Map<string, Set<(event: RivuletEvent) => void>>} */
    this.handlers = new Map();
    /** @type {Set<(change: StatusChange) => void>} */
    this.statusHandlers = new Set();
    this.onOffline = () => this.pause();
    this.onOnline = () => this.resume();
    this.lastEventId = this.options.resume === false ? '' : this.readStoredId();
    if (options.autoConnect !== false) queueMicrotask(() => this.connect());
  }

  /**
   * Listens to one SSE event type (`message` unless the server sent `event: <type>`).
   * @param {string} type
   * @param {(event: RivuletEvent) => void} handler
   * @returns {() => void} unsubscribe
   */
  on(type, handler) {
    let set = this.handlers.get(type);
    if (!set) {
      set = new Set();
      this.handlers.set(type, set);
      if (this.source) this.listen(this.source, type);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  /**
   * @param {(change: StatusChange) => void} handler
   * @returns {() => void} unsubscribe
   */
  onStatus(handler) {
    this.statusHandlers.add(handler);
    return () => this.statusHandlers.delete(handler);
  }

  /** Opens the stream (resuming from the saved Last-Event-ID). Called automatically unless autoConnect is false. */
  connect() {
    if (this.status === 'closed' || this.source || this.timer) return;
    window.addEventListener('offline', this.onOffline);
    window.addEventListener('online', this.onOnline);
    if (navigator.onLine === false) {
      this.pause();
      return;
    }
    this.open();
  }

  /** Drops the current connection and opens a new one at once, from the saved Last-Event-ID. */
  reconnect() {
    if (this.status === 'closed') return;
    this.stopConnection();
    this.attempt = 0;
    this.open();
  }

  /** Forgets the resume point: the next connection starts fresh. */
  clearResumePoint() {
    this.lastEventId = '';
    this.storage?.removeItem(STORAGE_PREFIX + this.key);
  }

  /** Closes the stream for good: connection, timers, probes, window and event listeners. */
  close() {
    if (this.status === 'closed') return;
    this.stopConnection();
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('online', this.onOnline);
    this.setStatus('closed', { reason: 'closed' });
    this.handlers.clear();
    this.statusHandlers.clear();
  }

  /** @private */
  open() {
    this.setStatus(this.attempt === 0 && this.status !== 'reconnecting' ? 'connecting' : 'reconnecting', {
      attempt: this.attempt,
    });
    const source = new EventSource(this.resumeUrl(), { withCredentials: this.options.withCredentials ?? false });
    this.source = source;
    source.addEventListener('open', () => {
      if (this.source !== source) return;
      this.attempt = 0;
      this.setStatus('open', {});
    });
    source.addEventListener('error', () => {
      if (this.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        void this.diagnose();
      } else {
        // EventSource reconnects by itself (same URL + Last-Event-ID header, after the server's retry).
        this.setStatus('reconnecting', { attempt: this.attempt, reason: 'connection lost' });
      }
    });
    if (!this.handlers.has('message')) this.listen(source, 'message');
    for (const type of this.handlers.keys()) this.listen(source, type);
  }

  /** @private @param {EventSource} source @param {string} type */
  listen(source, type) {
    source.addEventListener(type, (message) => {
      if (this.source !== source || this.status === 'closed') return;
      const event = /** @type {MessageEvent<string>} */ (message);
      if (event.lastEventId && event.lastEventId !== this.lastEventId) this.saveId(event.lastEventId);
      /** @type {RivuletEvent} */
      const rivuletEvent = { type, data: parseData(event.data), raw: event.data, lastEventId: event.lastEventId };
      for (const handler of [...(this.handlers.get(type) ?? [])]) handler(rivuletEvent);
      if (this.options.isComplete?.(rivuletEvent)) this.finish();
    });
  }

  /** @private The stream reached its end: stay closed (a reconnect would be answered 204). */
  finish() {
    this.complete = true;
    this.end({ reason: 'complete' });
  }

  /** @private @param {Omit<StatusChange, 'status'>} detail */
  end(detail) {
    this.stopConnection();
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('online', this.onOnline);
    this.setStatus('closed', detail);
  }

  /** @private EventSource gave up: find out whether the stream is complete, broken for good, or worth retrying. */
  async diagnose() {
    const probe = new AbortController();
    this.probe = probe;
    /** @type {number | undefined} */
    let minDelay;
    try {
      const response = await fetch(this.resumeUrl(), {
        headers: { Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: probe.signal,
        credentials: this.options.withCredentials ? 'include' : 'same-origin',
      });
      if (this.probe !== probe) return;
      if (response.status === 204) {
        this.probe = null;
        this.finish();
        return;
      }
      if (response.ok) {
        probe.abort();
      } else {
        const error = await httpErrorOf(response);
        if (this.probe !== probe) return;
        if (!error.retryable) {
          this.probe = null;
          this.end({ reason: 'http error', error });
          return;
        }
        minDelay = error.retryAfterMs;
      }
    } catch {
      if (this.probe !== probe) return;
      // Network down or server away: retry with backoff.
    }
    this.probe = null;
    this.scheduleRetry(minDelay);
  }

  /** @private @param {number | undefined} minDelay */
  scheduleRetry(minDelay) {
    const delay = Math.max(minDelay ?? 0, backoffDelay(this.attempt, this.options.backoff, this.options.random));
    this.attempt++;
    this.setStatus('reconnecting', { attempt: this.attempt, delayMs: delay, reason: 'backoff' });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
  }

  /** @private */
  pause() {
    if (this.status === 'closed' || this.status === 'paused') return;
    this.stopConnection();
    this.setStatus('paused', { reason: 'offline' });
  }

  /** @private */
  resume() {
    if (this.status !== 'paused') return;
    this.attempt = 0;
    this.open();
  }

  /** @private */
  stopConnection() {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.probe) {
      this.probe.abort();
      this.probe = null;
    }
  }

  /** @private */
  resumeUrl() {
    const url = new URL(this.url, location.href);
    if (this.lastEventId) url.searchParams.set('lastEventId', this.lastEventId);
    return url.toString();
  }

  /** @private @param {string} id */
  saveId(id) {
    this.lastEventId = id;
    if (this.options.resume === false) return;
    try {
      this.storage?.setItem(STORAGE_PREFIX + this.key, id);
    } catch {
      // Storage full or disabled: the in-memory id still resumes this page.
    }
  }

  /** @private */
  readStoredId() {
    try {
      return this.storage?.getItem(STORAGE_PREFIX + this.key) ?? '';
    } catch {
      return '';
    }
  }

  /** @private @param {StreamStatus} status @param {Omit<StatusChange, 'status'>} detail */
  setStatus(status, detail) {
    this.status = status;
    for (const handler of [...this.statusHandlers]) handler({ status, ...detail });
  }
}

/** @returns {Storage | null} */
function safeLocalStorage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** Topic names the server accepts (1 to 128 letters, digits or `. _ : -`). */
const TOPIC_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
/** How many event ids each tab remembers to drop a repeat after a handover. */
const RECENT_IDS = 1000;

/** @typedef {import('./rivulet-client').TopicEvent} TopicEvent */
/** @typedef {import('./rivulet-client').RivuletTopicsOptions} RivuletTopicsOptions */
/** @typedef {import('./rivulet-client').TopicsStatusChange} TopicsStatusChange */
/** @typedef {import('./rivulet-client').TabRole} TabRole */

/**
 * Topics of the multiplexed stream (`GET /api/events?topic=a&topic=b`), with one connection per
 * origin shared by every tab of the browser.
 *
 * Each tab keeps its own subscriptions. The tabs elect a leader with a Web Lock: the tab holding
 * the lock opens the one stream, for the union of every tab's topics, and hands each event to the
 * others over a BroadcastChannel; each tab passes on only the events of its own topics. A tab
 * that subscribes or unsubscribes tells the others; the leader reconnects with the new union,
 * resuming with the shared Last-Event-ID, so no topic misses an event. When the leader's tab
 * closes, the browser releases its lock and the next tab in line becomes leader: it reopens the
 * stream from the last id it received (every tab tracks it), so nothing is lost, and each tab drops
 * an id it has already seen, so nothing arrives twice. `share: false` (or a browser without Web
 * Locks or BroadcastChannel) gives this tab a stream of its own.
 */
export class RivuletTopics {
  /** @param {RivuletTopicsOptions} [options] */
  constructor(options = {}) {
    this.url = options.url ?? '/api/events';
    this.options = options;
    this.tabId = randomId();
    this.shared =
      options.share !== false && typeof BroadcastChannel === 'function' && typeof navigator.locks?.request === 'function';
    const where = new URL(this.url, location.href);
    // Tabs with different credentials must not share a stream: the token is part of the group.
    this.name = options.name ?? `rivulet:${where.origin}${where.pathname}:${hashOf(options.accessToken ?? '')}`;
    /** @type {TabRole} */
    this.role = this.shared ? 'follower' : 'solo';
    /** @type {StreamStatus} */
    this.status = 'idle';
    /** The shared stream's resume point: the id of the last event any tab of the group handed on. */
    this.lastEventId = options.lastEventId ?? '';
    this.closed = false;
    /** @type {Map<number, { topics: Set<string>, handler: (event: TopicEvent) => void }>} */
    this.subscriptions = new Map();
    this.nextSubscription = 1;
    /** Every other tab's topics, by tab id. @type {Map<string, string[]>} */
    this.tabs = new Map();
    /** @type {Set<(change: TopicsStatusChange) => void>} */
    this.statusHandlers = new Set();
    /** @type {Set<string>} */
    this.recent = new Set();
    /** @type {string[]} */
    this.recentOrder = [];
    // The stream (leader or solo): which run is current, what it carries, how to stop it.
    this.run = 0;
    this.streamKey = '';
    /** @type {AbortController | null} */
    this.abort = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.restartTimer = null;
    /** @type {(() => void) | null} */
    this.wake = null;
    this.retryMs = 1000;
    /** @type {(() => void) | null} */
    this.releaseLeadership = null;
    /** @type {(() => void) | null} */
    this.releaseTab = null;
    this.lockAbort = new AbortController();
    this.onPageHide = () => this.post({ kind: 'bye' });
    /** @type {BroadcastChannel | null} */
    this.channel = null;
    if (this.shared) this.join();
  }

  /**
   * Receives the events of these topics (every tab's handlers for a topic get every event of it,
   * in order, once). Control messages of the stream (`{"type":"reset"}`) reach every handler, with
   * `topic: null`.
   * @param {string | string[]} topics
   * @param {(event: TopicEvent) => void} handler
   * @returns {() => void} unsubscribe
   */
  subscribe(topics, handler) {
    if (this.closed) throw new Error('RivuletTopics is closed');
    const list = typeof topics === 'string' ? [topics] : [...topics];
    for (const topic of list) {
      if (!TOPIC_NAME.test(topic)) throw new Error(`Invalid topic ${JSON.stringify(topic)}: use 1 to 128 letters, digits or . _ : -`);
    }
    if (list.length === 0) throw new Error('subscribe needs at least one topic');
    const id = this.nextSubscription++;
    this.subscriptions.set(id, { topics: new Set(list), handler });
    this.topicsChanged();
    return () => {
      if (!this.subscriptions.delete(id) || this.closed) return;
      this.topicsChanged();
    };
  }

  /**
   * @param {(change: TopicsStatusChange) => void} handler
   * @returns {() => void} unsubscribe
   */
  onStatus(handler) {
    this.statusHandlers.add(handler);
    return () => this.statusHandlers.delete(handler);
  }

  /** Leaves the group: the stream (if this tab led it) moves to another tab; handlers are dropped. */
  close() {
    if (this.closed) return;
    this.post({ kind: 'bye' });
    this.closed = true;
    this.stopStream();
    this.subscriptions.clear();
    this.lockAbort.abort();
    this.releaseLeadership?.();
    this.releaseTab?.();
    this.channel?.close();
    this.channel = null;
    window.removeEventListener('pagehide', this.onPageHide);
    this.setStatus('closed', { reason: 'closed' });
    this.statusHandlers.clear();
  }

  /** @private This tab's own topics. */
  ownTopics() {
    const topics = new Set();
    for (const { topics: each } of this.subscriptions.values()) for (const topic of each) topics.add(topic);
    return [...topics].sort();
  }

  /** @private Every tab's topics: what the shared stream carries. */
  union() {
    const topics = new Set(this.ownTopics());
    for (const list of this.tabs.values()) for (const topic of list) topics.add(topic);
    return [...topics].sort();
  }

  /** @private */
  topicsChanged() {
    this.post({ kind: 'subs', topics: this.ownTopics() });
    if (this.serving()) this.scheduleRestart();
  }

  /** @private Joins the tabs of this origin: the channel, the tab's own lock, the leader election. */
  join() {
    const channel = new BroadcastChannel(this.name);
    this.channel = channel;
    channel.onmessage = (message) => this.fromTab(message.data);
    window.addEventListener('pagehide', this.onPageHide);
    const signal = this.lockAbort.signal;
    const held = (/** @type {(release: () => void) => void} */ keep) => () => new Promise((resolve) => keep(() => resolve(undefined)));
    // A lock per tab, held while the tab lives: the leader asks the browser which tabs are still there.
    navigator.locks
      .request(`${this.name}:tab:${this.tabId}`, { signal }, held((release) => (this.releaseTab = release)))
      .catch(() => undefined);
    navigator.locks
      .request(
        `${this.name}:leader`,
        { signal },
        held((release) => {
          this.releaseLeadership = release;
          void this.lead();
        }),
      )
      .catch(() => undefined); // AbortError: closed before it was this tab's turn
    this.post({ kind: 'hello', topics: this.ownTopics() });
  }

  /** @private This tab holds the leader lock: forget tabs that are gone, then open the stream. */
  async lead() {
    if (this.closed) return;
    this.role = 'leader';
    try {
      const state = await navigator.locks.query();
      const alive = new Set((state.held ?? []).map((lock) => lock.name));
      for (const tab of [...this.tabs.keys()]) if (!alive.has(`${this.name}:tab:${tab}`)) this.tabs.delete(tab);
    } catch {
      // query() unavailable: tabs that left without a word keep their topics in the union.
    }
    if (this.closed) return;
    this.setStatus(this.status, {});
    this.scheduleRestart();
  }

  /** @private A message from another tab of the group. @param {any} message */
  fromTab(message) {
    if (this.closed || !message || message.from === this.tabId) return;
    switch (message.kind) {
      case 'hello':
        this.tabs.set(message.from, message.topics);
        this.post({ kind: 'subs', topics: this.ownTopics() });
        if (this.role === 'leader') {
          this.post({ kind: 'state', status: this.status, lastEventId: this.lastEventId });
          this.scheduleRestart();
        }
        break;
      case 'subs':
        this.tabs.set(message.from, message.topics);
        if (this.role === 'leader') this.scheduleRestart();
        break;
      case 'bye':
        this.tabs.delete(message.from);
        if (this.role === 'leader') this.scheduleRestart();
        break;
      case 'event':
        if (this.role === 'follower') this.deliver(message.event);
        break;
      case 'state':
        if (this.role !== 'follower') break;
        if (message.lastEventId && !this.lastEventId) this.lastEventId = message.lastEventId;
        this.setStatus(message.status, message.detail ?? {});
        break;
      default:
        break;
    }
  }

  /** @private @param {Record<string, unknown>} message */
  post(message) {
    if (!this.channel || this.closed) return;
    try {
      this.channel.postMessage({ ...message, from: this.tabId });
    } catch {
      // A message that cannot be cloned (never for JSON data) or a closed channel.
    }
  }

  /** @private This tab runs the stream (leader, or solo). */
  serving() {
    return !this.closed && (this.role === 'leader' || this.role === 'solo');
  }

  /** @private Reconnects with the current union soon (changes arriving together make one reconnect). */
  scheduleRestart() {
    if (this.restartTimer || this.closed) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.serving()) return;
      const topics = this.union();
      const key = topics.join('&');
      if (key === this.streamKey && this.abort) return; // already carrying exactly these
      this.stopStream();
      this.streamKey = key;
      if (topics.length === 0) {
        this.setStatus('idle', {});
        return;
      }
      void this.stream(topics, ++this.run);
    }, 0);
  }

  /** @private */
  stopStream() {
    this.run++;
    this.streamKey = '';
    this.abort?.abort();
    this.abort = null;
    this.wake?.();
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
  }

  /**
   * @private The one connection: fetch + the client's SSE parser (every event type, any header),
   * reconnecting from the shared Last-Event-ID after the server's `retry:` when a stream ends or
   * drops, with backoff when it cannot open.
   * @param {string[]} topics @param {number} run
   */
  async stream(topics, run) {
    const url = new URL(this.url, location.href);
    for (const topic of topics) url.searchParams.append('topic', topic);
    const headers = new Headers(this.options.headers);
    if (this.options.accessToken) headers.set('Authorization', `Bearer ${this.options.accessToken}`);
    let attempt = 0;
    while (run === this.run && this.serving()) {
      const abort = new AbortController();
      this.abort = abort;
      let opened = false;
      let delay = 0;
      /** @type {Omit<TopicsStatusChange, 'status' | 'role'>} */
      let detail = {};
      this.setStatus(attempt === 0 && this.status !== 'reconnecting' ? 'connecting' : 'reconnecting', { attempt });
      try {
        const result = await fetchEventStream(url.toString(), {
          headers,
          lastEventId: this.lastEventId || undefined,
          signal: abort.signal,
          credentials: this.options.withCredentials ? 'include' : 'same-origin',
          onOpen: () => {
            opened = true;
            attempt = 0;
            this.setStatus('open', {});
          },
          onEvent: (event) => {
            if (run === this.run) this.fromServer(event);
          },
          onRetry: (ms) => (this.retryMs = ms),
        });
        if (run !== this.run) return;
        if (result.status === 204) {
          this.setStatus('closed', { reason: 'complete' });
          return;
        }
        delay = this.retryMs;
        detail = { reason: 'connection lost' };
      } catch (error) {
        if (run !== this.run) return;
        if (error instanceof RivuletHttpError && !error.retryable) {
          this.abort = null;
          this.setStatus('closed', { reason: 'http error', error });
          return;
        }
        const retryAfter = error instanceof RivuletHttpError ? error.retryAfterMs : undefined;
        delay = opened ? this.retryMs : Math.max(retryAfter ?? 0, backoffDelay(attempt, this.options.backoff, this.options.random));
        if (!opened) attempt++;
        detail = { reason: opened ? 'connection lost' : 'backoff', delayMs: delay };
      }
      this.setStatus('reconnecting', { attempt, ...detail });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve(undefined);
        };
      });
      this.wake = null;
    }
  }

  /** @private An event from the server: to this tab's handlers and to every other tab. @param {RivuletEvent} event */
  fromServer(event) {
    const envelope = /** @type {{id?: unknown, topic?: unknown, type?: unknown, data?: unknown, timestamp?: unknown}} */ (
      event.data && typeof event.data === 'object' ? event.data : {}
    );
    /** @type {TopicEvent} */
    const topicEvent =
      typeof envelope.topic === 'string' && event.lastEventId
        ? {
            id: event.lastEventId,
            topic: envelope.topic,
            type: event.type,
            data: envelope.data,
            timestamp: typeof envelope.timestamp === 'string' ? envelope.timestamp : '',
            lastEventId: event.lastEventId,
          }
        : { id: '', topic: null, type: typeof envelope.type === 'string' ? envelope.type : event.type, data: event.data, timestamp: '', lastEventId: this.lastEventId };
    this.deliver(topicEvent);
    this.post({ kind: 'event', event: topicEvent });
  }

  /** @private To this tab's handlers of the event's topic, once per id. @param {TopicEvent} event */
  deliver(event) {
    if (event.id) {
      if (this.recent.has(event.id)) return;
      this.recent.add(event.id);
      this.recentOrder.push(event.id);
      if (this.recentOrder.length > RECENT_IDS) this.recent.delete(this.recentOrder.shift() ?? '');
      this.lastEventId = event.id;
    }
    for (const { topics, handler } of [...this.subscriptions.values()]) {
      if (event.topic === null || topics.has(event.topic)) handler(event);
    }
  }

  /** @private @param {StreamStatus} status @param {Omit<TopicsStatusChange, 'status' | 'role'>} detail */
  setStatus(status, detail) {
    this.status = status;
    if (this.role === 'leader') this.post({ kind: 'state', status, lastEventId: this.lastEventId, detail: { ...detail, error: undefined } });
    const change = { status, role: this.role, ...detail };
    for (const handler of [...this.statusHandlers]) handler(change);
  }
}

/** @returns {string} */
function randomId() {
  return typeof crypto?.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

/** A short non-cryptographic hash (FNV-1a), so a token is not spelled out in lock names. @param {string} text */
function hashOf(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16);
}
