import { applyDecorators } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiHeader,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  type ApiHeaderOptions,
} from '@nestjs/swagger';
import { ApiErrorResponse, schemaRef } from '../common/api-docs';
import { durableStreamEvents } from './dto/durable-stream-events.dto';
import { BEGINNING, NOW, OFFSET_PATTERN } from './offsets';
import { CONTENT_TYPE, INTEGER, LIVE_MODES, RFC3339, STREAM_PATH, TTL } from './request-rules';

/**
 * The API document's entries for /v1/stream/{path} (docs/durable-streams.md), one per method,
 * with the patterns the controller validates with (request-rules.ts, offsets.ts).
 */

type Header = { description: string; pattern?: RegExp; enum?: string[] };

const string = (pattern?: RegExp, values?: readonly string[]) => ({
  type: 'string' as const,
  ...(pattern ? { pattern: pattern.source } : {}),
  ...(values ? { enum: [...values] } : {}),
});

const OFFSET_VALUE = new RegExp(`^(${BEGINNING}|${NOW}|${OFFSET_PATTERN.source.slice(1, -1)})$`);

/** Request headers of the protocol, by name. */
const REQUEST_HEADERS = {
  'Content-Type': {
    description:
      "the stream's content type (create: default application/octet-stream; append: must match)",
    pattern: CONTENT_TYPE,
  },
  'Stream-TTL': {
    description:
      'seconds until the stream expires, renewed by reads and writes (not with Stream-Expires-At)',
    pattern: TTL,
  },
  'Stream-Expires-At': {
    description: 'an RFC 3339 time at which the stream expires (not with Stream-TTL)',
    pattern: RFC3339,
  },
  'Stream-Closed': {
    description: 'true: create closed, or close with this append',
    enum: ['true'],
  },
  'Stream-Forked-From': {
    description:
      'create a fork of this stream (/v1/stream/<source> or <source>); needs read access to it',
    pattern: STREAM_PATH,
  },
  'Stream-Fork-Offset': {
    description: "the fork's offset in the source (default: its tail)",
    pattern: OFFSET_PATTERN,
  },
  'Stream-Fork-Sub-Offset': {
    description: "bytes (or JSON messages) of the source's next append to include",
    pattern: INTEGER,
  },
  'Stream-Seq': {
    description: 'a writer sequence: must be greater, byte-wise, than the last one (else 409)',
  },
  'Producer-Id': {
    description:
      'idempotent producer: its id (with Producer-Epoch and Producer-Seq, all three or none)',
  },
  'Producer-Epoch': {
    description: 'idempotent producer: its epoch (a stale one is 403)',
    pattern: INTEGER,
  },
  'Producer-Seq': {
    description: "idempotent producer: the batch's number (a gap is 409, a duplicate 204)",
    pattern: INTEGER,
  },
  'If-None-Match': { description: "a catch-up read's ETag: 304 when nothing changed" },
} satisfies Record<string, Header>;

function requestHeaders(...names: Array<keyof typeof REQUEST_HEADERS>): MethodDecorator {
  return applyDecorators(
    ...names.map((name) => {
      const header: Header = REQUEST_HEADERS[name];
      const options: ApiHeaderOptions = {
        name,
        required: false,
        description: header.description,
        schema: string(header.pattern, header.enum),
      };
      return ApiHeader(options);
    }),
  );
}

/** Response headers of the protocol, by name. */
const RESPONSE_HEADERS = {
  'Stream-Next-Offset': 'the offset after the last byte: where the next read starts',
  'Stream-Up-To-Date': 'true: the read reached the tail',
  'Stream-Closed': 'true: the stream is closed (at its tail)',
  'Stream-Cursor': 'the cursor to send with the next live read',
  'Stream-TTL': "the stream's TTL in seconds",
  'Stream-Expires-At': "the stream's expiry time",
  ETag: 'identifies what this catch-up read returned (for If-None-Match)',
  Location: "the new stream's URL",
  'Content-Type': "the stream's content type",
  'Producer-Epoch': "the producer's current epoch",
  'Producer-Seq': 'the highest accepted Producer-Seq',
  'Producer-Expected-Seq': 'the Producer-Seq the server expected',
  'Producer-Received-Seq': 'the Producer-Seq it received',
} as const;

function responseHeaders(...names: Array<keyof typeof RESPONSE_HEADERS>) {
  return Object.fromEntries(
    names.map((name) => [
      name,
      { description: RESPONSE_HEADERS[name], schema: { type: 'string' } },
    ]),
  );
}

/** Every operation: the stream's path, the token (query parameter, Bearer or cookie), the refusals. */
function operation(summary: string, description: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({ summary, description }),
    ApiParam({
      name: 'path',
      description: 'the stream path: one or more segments separated by `/`',
      schema: string(STREAM_PATH),
    }),
    ApiQuery({
      name: 'access_token',
      required: false,
      type: String,
      description:
        'A JWT with a `rivulet.streams` scope when AUTH_JWT_SECRET is set (or Authorization: Bearer)',
    }),
    ApiErrorResponse(400, 'a malformed path, header, offset or parameter'),
    ApiErrorResponse(401, 'a token is required (AUTH_JWT_SECRET is set) and none valid was given'),
    ApiErrorResponse(
      403,
      "the token's `rivulet.streams` scopes do not cover this path (or a stale Producer-Epoch)",
    ),
    ApiErrorResponse(
      503,
      'the event store is unavailable, or the instance is draining; see Retry-After',
    ),
  );
}

const BYTES = { schema: { type: 'string', format: 'binary' } };

/** A create or append body: bytes of the stream's content type (JSON streams: a value or an array). */
const body = (description: string) =>
  applyDecorators(
    ApiConsumes('application/octet-stream', 'application/json', 'text/plain'),
    ApiBody({ required: false, description, schema: BYTES.schema }),
  );

export const ApiCreateStream = () =>
  applyDecorators(
    operation(
      'Create a stream (or a fork)',
      'Idempotent: the same configuration again answers 200.',
    ),
    requestHeaders(
      'Content-Type',
      'Stream-TTL',
      'Stream-Expires-At',
      'Stream-Closed',
      'Stream-Forked-From',
      'Stream-Fork-Offset',
      'Stream-Fork-Sub-Offset',
    ),
    body('the first bytes (optional; `[]` for an empty JSON stream)'),
    ApiResponse({
      status: 201,
      description: 'created',
      headers: responseHeaders('Location', 'Content-Type', 'Stream-Next-Offset', 'Stream-Closed'),
    }),
    ApiResponse({
      status: 200,
      description: 'it exists with the same configuration',
      headers: responseHeaders('Content-Type', 'Stream-Next-Offset', 'Stream-Closed'),
    }),
    ApiErrorResponse(409, 'it exists with another configuration'),
    ApiErrorResponse(413, 'the body exceeds DURABLE_MAX_BODY_BYTES'),
  );

export const ApiAppendToStream = () =>
  applyDecorators(
    operation(
      'Append (or close)',
      'An empty body is refused unless Stream-Closed: true closes the stream.',
    ),
    requestHeaders(
      'Content-Type',
      'Stream-Seq',
      'Stream-Closed',
      'Producer-Id',
      'Producer-Epoch',
      'Producer-Seq',
    ),
    body('the bytes to append'),
    ApiResponse({
      status: 204,
      description: 'appended',
      headers: responseHeaders('Stream-Next-Offset', 'Stream-Closed', 'Producer-Seq'),
    }),
    ApiResponse({
      status: 200,
      description: 'appended (idempotent producer)',
      headers: responseHeaders('Stream-Next-Offset', 'Producer-Epoch', 'Producer-Seq'),
    }),
    ApiErrorResponse(404, 'no such stream'),
    ApiErrorResponse(
      409,
      'another content type, a Stream-Seq not greater than the last, a producer sequence gap, or a closed stream',
    ),
    ApiErrorResponse(410, 'the stream was deleted while forks still read it'),
    ApiErrorResponse(413, 'the body exceeds DURABLE_MAX_BODY_BYTES'),
  );

export const ApiDeleteStream = () =>
  applyDecorators(
    operation(
      'Delete a stream',
      'A stream that still has forks is kept for them (410 for its own clients).',
    ),
    ApiResponse({ status: 204, description: 'deleted' }),
    ApiErrorResponse(404, 'no such stream'),
  );

export const ApiStreamMetadata = () =>
  applyDecorators(
    operation("A stream's metadata", 'No body; does not renew a Stream-TTL.'),
    ApiResponse({
      status: 200,
      description: 'the metadata, in headers',
      headers: responseHeaders(
        'Content-Type',
        'Stream-Next-Offset',
        'Stream-TTL',
        'Stream-Expires-At',
        'Stream-Closed',
        'ETag',
      ),
    }),
    ApiErrorResponse(404, 'no such stream'),
  );

export const ApiReadStream = () =>
  applyDecorators(
    operation(
      'Read: catch-up, long-poll or SSE',
      'Catch-up answers the bytes after `offset` (a JSON stream: one JSON array). `live=long-poll` waits up to DURABLE_LONG_POLL_MS for data; `live=sse` is an event stream of `event: data` and `event: control` frames (the schema is each `data:`), ended after DURABLE_SSE_MAX_MS.',
    ),
    ApiQuery({
      name: 'offset',
      required: false,
      description: `where to read from: \`${BEGINNING}\` (the beginning, the default), \`${NOW}\` (the tail) or an offset handed out before`,
      schema: string(OFFSET_VALUE),
    }),
    ApiQuery({
      name: 'live',
      required: false,
      description: 'a live read (needs an offset)',
      schema: string(undefined, LIVE_MODES),
    }),
    ApiQuery({
      name: 'cursor',
      required: false,
      description: 'the Stream-Cursor (or streamCursor) of the last live read',
      schema: string(),
    }),
    requestHeaders('If-None-Match'),
    ApiResponse({
      status: 200,
      description:
        'the data after the offset (catch-up and long-poll), or an event stream (`live=sse`)',
      headers: responseHeaders(
        'Content-Type',
        'Stream-Next-Offset',
        'Stream-Up-To-Date',
        'Stream-Closed',
        'Stream-Cursor',
        'ETag',
      ),
      content: {
        'application/octet-stream': BYTES,
        'application/json': { schema: { type: 'array', items: {} } },
        'text/event-stream': { schema: schemaRef(durableStreamEvents) },
      },
    }),
    ApiResponse({
      status: 204,
      description: 'long-poll: nothing new before the timeout, or a closed stream at its tail',
      headers: responseHeaders(
        'Stream-Next-Offset',
        'Stream-Up-To-Date',
        'Stream-Closed',
        'Stream-Cursor',
      ),
    }),
    ApiResponse({ status: 304, description: 'If-None-Match: nothing changed' }),
    ApiErrorResponse(404, 'no such stream'),
    ApiErrorResponse(
      410,
      'the stream was deleted while forks still read it, or its first events are gone',
    ),
    ApiErrorResponse(
      429,
      'too many held reads and streams from this address (MAX_CONNECTIONS_PER_IP); see Retry-After',
    ),
  );

export const ApiStreamPreflight = () =>
  applyDecorators(
    ApiOperation({
      summary: 'CORS preflight',
      description:
        'The methods and headers of the protocol (an origin CORS_ORIGINS lists also gets Access-Control-Allow-Origin).',
    }),
    ApiParam({ name: 'path', description: 'the stream path', schema: string(STREAM_PATH) }),
    ApiResponse({ status: 204, description: 'Access-Control-Allow-Methods and -Headers' }),
  );
