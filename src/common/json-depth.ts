const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * How deep arrays and objects nest in a JSON text, read from its raw bytes in one pass without
 * recursion (UTF-8: no byte of a multi-byte character is ASCII, so brackets inside strings are the
 * only ones to skip). Stops counting as soon as `limit` is passed, and returns `limit + 1` then.
 *
 * Why before parsing: JSON.parse itself handles any depth, but everything that later walks the value
 * recursively (JSON.stringify in the serializer, the Redis adapter) overflows the stack at a few
 * thousand levels, so such a value must never enter the log.
 */
export function jsonDepth(text: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
    }
  }
  return deepest;
}

/** A request body nested deeper than MAX_JSON_DEPTH: answered 400 (see app.factory's body handler). */
export class JsonTooDeepError extends Error {
  override readonly name = 'JsonTooDeepError';
  /** Read by body-parser (the status it answers) and by the body error handler. */
  readonly status = 400;
  readonly type = 'entity.too.deep';

  constructor(readonly maxDepth: number) {
    super(`The JSON body nests arrays or objects deeper than MAX_JSON_DEPTH (${maxDepth})`);
  }
}

/** body-parser's `verify` hook: refuses a body nested deeper than `maxDepth` before it is parsed. */
export function verifyJsonDepth(
  maxDepth: number,
): (req: unknown, res: unknown, body: Buffer) => void {
  return (_req, _res, body) => {
    if (jsonDepth(body, maxDepth) > maxDepth) throw new JsonTooDeepError(maxDepth);
  };
}
