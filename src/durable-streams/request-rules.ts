/**
 * What the Durable Streams routes accept in a path and in their headers: the controller validates
 * with these, and the API document states them as its patterns (durable-streams.api.ts).
 */
export const STREAM_PATH = /^[A-Za-z0-9._~!$'()*+,;=:@%/-]{1,1024}$/;
export const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+/;
export const TTL = /^(0|[1-9]\d*)$/;
export const INTEGER = /^\d+$/;
/** RFC 3339 date-time (a `T` or space, seconds, optional fraction, `Z` or an offset). */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** The `live` query parameter's values. */
export const LIVE_MODES = ['long-poll', 'sse'] as const;
