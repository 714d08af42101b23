/**
 * Names of the event log's topics and event types (docs/protocol.md §2), shared by the features that
 * write them and by access control. A leaf: it imports nothing, so any layer may use it.
 */

/** Topic names: letters, digits and `. _ : -`, 1..128 characters (`chat:lobby`, `user:42`, `orders.eu`). */
export const TOPIC_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
/** Event types (the `event:` field): letters, digits and `. _ : -`, 1..64 characters. */
export const EVENT_TYPE = /^[A-Za-z0-9._:-]{1,64}$/;
/**
 * User ids (a token's `sub`, `?userId=`, a notification's `userId`): whatever an identity provider
 * issues (`auth0|abc123`, `ann@example.com`, Keycloak and Cognito UUIDs, `us-east-1:…`), 1 to
 * MAX_USER_ID_BYTES bytes of UTF-8 without control characters. userTopic encodes them into a topic.
 */
export const MAX_USER_ID_BYTES = 255;
const CONTROL_CHARACTER = /\p{Cc}/u;
export const USER_ID_RULE = `1 to ${MAX_USER_ID_BYTES} bytes, no control characters`;

export function isUserId(raw: unknown): raw is string {
  if (typeof raw !== 'string' || raw.length === 0) return false;
  return Buffer.byteLength(raw, 'utf8') <= MAX_USER_ID_BYTES && !CONTROL_CHARACTER.test(raw);
}

/** Bytes of a user id kept as they are in its topic; every other byte is written `:XX` (hex). */
const KEPT_BYTE = /^[A-Za-z0-9._-]$/;
/** A personal topic: `user:` and an encoded user id (at most 3 characters per byte). */
export const USER_TOPIC = new RegExp(`^user:[A-Za-z0-9._:-]{1,${3 * MAX_USER_ID_BYTES}}$`);

/**
 * A user's own topic (their notifications), `user:<encoded id>`. The encoding is reversible and
 * keeps the simple ids everybody already uses unchanged (`user:42`, `user:ann.lee`); any other byte
 * of the UTF-8 id becomes `:` and two hex digits, and `:` itself is always encoded, so two ids never
 * share a topic: `auth0|abc123` is `user:auth0:7Cabc123`, `ann@example.com` is
 * `user:ann:40example.com`.
 */
export function userTopic(userId: string): string {
  return `user:${encodeUserId(userId)}`;
}

export function encodeUserId(userId: string): string {
  let out = '';
  for (const byte of Buffer.from(userId, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += KEPT_BYTE.test(char) ? char : `:${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The user id of an encoded one (encodeUserId's inverse); undefined if it is not an encoding. */
export function decodeUserId(encoded: string): string | undefined {
  if (!/^(?:[A-Za-z0-9._-]|:[0-9A-F]{2})+$/.test(encoded)) return undefined;
  const bytes = encoded.replace(/:([0-9A-F]{2})/g, (_m, hex: string) =>
    String.fromCharCode(parseInt(hex, 16)),
  );
  const decoded = Buffer.from(bytes, 'latin1').toString('utf8');
  return encodeUserId(decoded) === encoded ? decoded : undefined;
}

/** The topic every user's notification stream carries besides their own. */
export const BROADCAST_TOPIC = 'broadcast';

/**
 * A durable stream's topic is `ds:<path>` (docs/durable-streams.md). Its events are the stream's
 * internal records, written and read only through /v1/stream/*, under the stream scopes: the topic
 * endpoints refuse every topic with this prefix, even a one-segment path's (`ds:orders`), which
 * would otherwise be a valid topic name.
 */
export const DURABLE_STREAM_TOPIC_PREFIX = 'ds:';

export function durableStreamTopic(path: string): string {
  return `${DURABLE_STREAM_TOPIC_PREFIX}${path}`;
}
