import type { LogEvent } from './event-log';

/**
 * What one retained event costs besides its data: the event object, its place in the store's age
 * order, the message and frame built for it once it is sent (cached for as long as it is retained),
 * the frame's id, event and JSON wrapper.
 */
const EVENT_OVERHEAD = 512;
/** Rough V8 sizes on 64-bit: a string's header, an array and an object with their slots. */
const STRING_HEADER = 24;
const ARRAY_HEADER = 32;
const OBJECT_HEADER = 56;
const SLOT = 8;
const PRIMITIVE = 16;

/** Text V8 cannot keep one byte a character. */
const TWO_BYTE = /[\u0100-\uffff]/;

/**
 * An estimate of the memory an event holds while the memory store retains it, for STORE_MAX_BYTES.
 * A string counts its characters once for itself and once for the frame the serializer caches for
 * it, at one byte each, or two when it holds text beyond Latin-1 (V8 keeps that in two-byte
 * strings); every array, object and property counts its slots. Walks the value without recursion,
 * so no depth can break it.
 */
export function estimateEventBytes(event: LogEvent): number {
  let bytes = EVENT_OVERHEAD + 2 * (event.id.length + event.topic.length + event.type.length);
  const pending: unknown[] = [event.data];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      bytes += STRING_HEADER + (TWO_BYTE.test(value) ? 4 : 2) * value.length;
    } else if (Array.isArray(value)) {
      bytes += ARRAY_HEADER + SLOT * value.length;
      for (const item of value as unknown[]) pending.push(item);
    } else if (typeof value === 'object' && value !== null) {
      const keys = Object.keys(value);
      bytes += OBJECT_HEADER + 2 * SLOT * keys.length;
      for (const key of keys) {
        bytes += STRING_HEADER + 2 * key.length;
        pending.push((value as Record<string, unknown>)[key]);
      }
    } else {
      bytes += PRIMITIVE;
    }
  }
  return bytes;
}
