// @ts-check
/**
 * Rivulet browser client: resumable Server-Sent Events over EventSource (GET streams) and over
 * fetch + ReadableStream (POST streams such as the AI chat). No dependencies, no build step.
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
