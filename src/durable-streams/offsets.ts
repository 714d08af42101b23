/**
 * Durable Streams offsets: `<16 digits>_<16 digits>`, zero-padded so that comparing two offsets as
 * strings orders them by position. The second part counts the stream's bytes (for a JSON stream, the
 * bytes of its messages serialized); the first is carried over unchanged (kept at 0 by Rivulet, kept
 * from the source by a fork). Offsets are derived from the stream's own history, never from the
 * event log's ids, so they are the same on every instance and survive nothing but the stream.
 */
export const ZERO_OFFSET = '0000000000000000_0000000000000000';

/** The sentinels a client may send: the stream's beginning and its current tail. */
export const BEGINNING = '-1';
export const NOW = 'now';

/** What a client may send as an offset (padded or not); the API document's pattern too. */
export const OFFSET_PATTERN = /^(\d{1,16})_(\d{1,16})$/;

function pad(value: number): string {
  return String(value).padStart(16, '0');
}

/** A well-formed offset in its canonical (padded) form, or undefined. */
export function parseOffset(value: string): string | undefined {
  const match = OFFSET_PATTERN.exec(value);
  if (!match) return undefined;
  return `${pad(Number(match[1]))}_${pad(Number(match[2]))}`;
}

/** The offset `bytes` further on. */
export function advanceOffset(offset: string, bytes: number): string {
  const [major, minor] = offset.split('_');
  return `${major}_${pad(Number(minor) + bytes)}`;
}

const CURSOR_EPOCH_MS = Date.UTC(2024, 9, 9);
const CURSOR_INTERVAL_MS = 20_000;

/**
 * The `Stream-Cursor` of a live response (the protocol's section 8.1): the number of 20-second
 * intervals since 2024-10-09 UTC; when the client's cursor is already at or past that, its cursor plus
 * a random 1 to 3600 seconds (in whole intervals), so a cursor never repeats or goes back.
 */
export function responseCursor(clientCursor: string | undefined, now = Date.now()): string {
  const current = Math.floor((now - CURSOR_EPOCH_MS) / CURSOR_INTERVAL_MS);
  const client =
    clientCursor !== undefined && /^\d{1,15}$/.test(clientCursor) ? Number(clientCursor) : NaN;
  if (Number.isNaN(client) || client < current) return String(current);
  const jitterSeconds = 1 + Math.floor(Math.random() * 3600);
  return String(client + Math.max(1, Math.ceil((jitterSeconds * 1000) / CURSOR_INTERVAL_MS)));
}
