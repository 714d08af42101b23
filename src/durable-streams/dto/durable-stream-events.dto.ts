import { z } from 'zod';
import { streamEvents } from '../../sse/stream-events';
import { OFFSET_PATTERN } from '../offsets';

/**
 * A `live=sse` read's `event: control` (after every `event: data`, and once at the tail of a closed
 * stream): where to resume, and whether the reader is up to date. The controller builds its
 * control frames as this type, and the API document describes them with this schema.
 */
export const durableControlEvent = z
  .strictObject({
    streamNextOffset: z.string().regex(OFFSET_PATTERN),
    streamCursor: z.string().optional(),
    upToDate: z.literal(true).optional(),
    streamClosed: z.literal(true).optional(),
  })
  .meta({ description: '`event: control`: the offset to resume from, cursor and up-to-date flag' });

export type DurableControlEvent = z.output<typeof durableControlEvent>;

/**
 * A `live=sse` read's `event: data` on a JSON stream: the messages appended since the last control
 * event, as one JSON array. (A text stream's data is its text as is; any other content type is
 * base64, with `Stream-SSE-Data-Encoding: base64`.)
 */
export const durableDataEvent = z
  .array(z.unknown())
  .meta({ description: '`event: data` of a JSON stream: the new messages as one array' });

/** What each `data:` of a Durable Streams `live=sse` read holds. */
export const durableStreamEvents = streamEvents('DurableStreamEvent', [
  durableDataEvent,
  durableControlEvent,
]);
