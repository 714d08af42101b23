/**
 * Durable stream path patterns, as in PUBLIC_STREAMS and a token's `rivulet.streams.read` / `.write`:
 * the topic pattern language (an exact name, or a prefix ending in `*`) over stream paths, which may
 * contain `/` (`orders/*` is every stream under /v1/stream/orders/).
 */
export const STREAM_PATTERN = /^[A-Za-z0-9._:/-]{0,512}\*?$/;

export function isStreamPattern(value: string): boolean {
  return value.length > 0 && STREAM_PATTERN.test(value);
}
