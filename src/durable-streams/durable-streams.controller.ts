import {
  All,
  Controller,
  Delete,
  Get,
  Head,
  HttpException,
  HttpStatus,
  Inject,
  Logger,
  Options,
  Post,
  Put,
  Req,
  Res,
} from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { AccessService } from '../auth/access.service';
import { RetryableHttpException, retryAfterSeconds } from '../common/retryable.exception';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { CORS_ALLOWED_HEADERS, CORS_METHODS } from '../config/cors.config';
import { StoreUnavailableError } from '../event-log/event-log';
import { DrainService } from '../lifecycle/drain.service';
import { ConnectionRegistry } from '../sse/connection-registry.service';
import { openingFrame, protocolFrame } from '../sse/sse-serializer';
import { AbandonedBodyException, readRawBody } from './raw-body';
import { coalesced } from './coalesced';
import type { DurableControlEvent } from './dto/durable-stream-events.dto';
import {
  ApiAppendToStream,
  ApiCreateStream,
  ApiDeleteStream,
  ApiReadStream,
  ApiStreamMetadata,
  ApiStreamPreflight,
} from './durable-streams.api';
import { BEGINNING, NOW, parseOffset, responseCursor } from './offsets';
import { CONTENT_TYPE, INTEGER, RFC3339, STREAM_PATH, TTL } from './request-rules';
import {
  CreateRequest,
  DurableStreamError,
  DurableStreamsService,
  ReadResult,
} from './durable-streams.service';
import {
  isJsonContentType,
  normalizeContentType,
  StreamMessage,
  StreamState,
} from './stream-state';

export const STREAM_PREFIX = '/v1/stream/';
const ROUTE = 'v1/stream/*path';

/** On every answer of /v1/stream/* (the protocol's section 10.7). */
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/**
 * The Durable Streams protocol under /v1/stream/<path> (see docs/durable-streams.md): PUT creates
 * (or forks), POST appends or closes, DELETE deletes, HEAD is the metadata, GET reads (catch-up,
 * `live=long-poll`, `live=sse`). Access is checked before any body is read or any stream starts.
 */
@ApiTags('durable-streams')
@Controller()
export class DurableStreamsController {
  private readonly logger = new Logger('DurableStreams');
  /** Long-polls held open, by client address (they count with the SSE streams against the limits). */
  private readonly held = new Map<string, number>();
  private heldTotal = 0;

  constructor(
    private readonly streams: DurableStreamsService,
    private readonly access: AccessService,
    private readonly registry: ConnectionRegistry,
    private readonly drain: DrainService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // One route per operation, for the API document; each runs `handle`, which dispatches on the
  // method. HEAD is declared before GET (Express would otherwise answer a HEAD with the GET route).
  @Put(ROUTE)
  @ApiCreateStream()
  createStream(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res);
  }

  @Post(ROUTE)
  @ApiAppendToStream()
  appendToStream(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res);
  }

  @Delete(ROUTE)
  @ApiDeleteStream()
  deleteStream(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res);
  }

  @Head(ROUTE)
  @ApiStreamMetadata()
  streamMetadata(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res);
  }

  @Get(ROUTE)
  @ApiReadStream()
  readStream(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res);
  }

  @Options(ROUTE)
  @ApiStreamPreflight()
  preflight(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res);
  }

  /** Any other method: 405 with Allow (not an operation, so not in the API document). */
  @All(ROUTE)
  @ApiExcludeEndpoint()
  otherMethod(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res);
  }

  private async handle(req: Request, res: Response): Promise<void> {
    setHeaders(res, SECURITY_HEADERS);
    try {
      const path = streamPath(req);
      switch (req.method) {
        case 'OPTIONS':
          // A preflight from an origin CORS_ORIGINS does not list: the methods and headers, no origin.
          setHeaders(res, {
            'Access-Control-Allow-Methods': CORS_METHODS.join(', '),
            'Access-Control-Allow-Headers': CORS_ALLOWED_HEADERS.join(', '),
          });
          res.status(HttpStatus.NO_CONTENT).end();
          return;
        case 'PUT':
          return await this.create(req, res, path);
        case 'POST':
          return await this.append(req, res, path);
        case 'DELETE':
          await this.access.authorizeStream(req, 'write', path);
          await this.streams.delete(path);
          res.status(HttpStatus.NO_CONTENT).end();
          return;
        case 'HEAD':
          return await this.head(req, res, path);
        case 'GET':
          return await this.read(req, res, path);
        default:
          setHeaders(res, 'Allow', CORS_METHODS.join(', '));
          throw new DurableStreamError(405, `${req.method} is not a Durable Streams operation`);
      }
    } catch (error) {
      this.fail(req, res, error);
    }
  }

  private async create(req: Request, res: Response, path: string): Promise<void> {
    await this.access.authorizeStream(req, 'write', path);
    const request = parseCreate(req);
    if (request.forkedFrom !== undefined) {
      await this.access.authorizeStream(req, 'read', request.forkedFrom);
    }
    const body = await readRawBody(req, this.config.durable.maxBodyBytes);
    const result = await this.streams.create(path, request, body);
    setHeaders(res, { 'Content-Type': result.contentType, 'Stream-Next-Offset': result.tail });
    if (result.closed) setHeaders(res, 'Stream-Closed', 'true');
    if (result.created)
      setHeaders(res, 'Location', `${req.protocol}://${req.get('host') ?? 'localhost'}${req.path}`);
    res.status(result.created ? HttpStatus.CREATED : HttpStatus.OK).end();
  }

  private async append(req: Request, res: Response, path: string): Promise<void> {
    await this.access.authorizeStream(req, 'write', path);
    const producer = parseProducer(req);
    const contentType = req.headers['content-type'];
    const body = await readRawBody(req, this.config.durable.maxBodyBytes);
    const result = await this.streams.append(
      path,
      {
        contentType:
          contentType === undefined || contentType.trim() === '' ? undefined : contentType,
        seq: header(req, 'stream-seq'),
        producer,
        close: header(req, 'stream-closed') === 'true',
      },
      body,
    );
    setHeaders(res, result.headers);
    res.status(result.status).end();
  }

  private async head(req: Request, res: Response, path: string): Promise<void> {
    await this.access.authorizeStream(req, 'read', path);
    const state = await this.streams.current(path);
    setHeaders(res, {
      'Content-Type': state.contentType,
      'Stream-Next-Offset': state.tail,
      'Cache-Control': 'no-store',
      ETag: etag(path, BEGINNING, state.tail, state.closed),
    });
    if (state.closed) setHeaders(res, 'Stream-Closed', 'true');
    if (state.ttlSeconds !== undefined) setHeaders(res, 'Stream-TTL', String(state.ttlSeconds));
    if (state.expiresAt !== undefined) setHeaders(res, 'Stream-Expires-At', state.expiresAt);
    res.status(HttpStatus.OK).end();
  }

  private async read(req: Request, res: Response, path: string): Promise<void> {
    await this.access.authorizeStream(req, 'read', path);
    const params = new URL(req.originalUrl, 'http://localhost').searchParams;
    const offsets = params.getAll('offset');
    if (offsets.length > 1) throw new DurableStreamError(400, 'Give offset once');
    const offset = offsets[0];
    if (offset === '') throw new DurableStreamError(400, 'offset is empty');
    const canonical =
      offset === undefined || offset === BEGINNING || offset === NOW
        ? undefined
        : parseOffset(offset);
    if (offset !== undefined && offset !== BEGINNING && offset !== NOW && canonical === undefined) {
      throw new DurableStreamError(
        400,
        `offset ${JSON.stringify(offset)} is not an offset, -1 or now`,
      );
    }
    const live = params.get('live') ?? undefined;
    if (live !== undefined && live !== 'long-poll' && live !== 'sse') {
      throw new DurableStreamError(400, 'live must be long-poll or sse');
    }
    if (live !== undefined && offset === undefined) {
      throw new DurableStreamError(400, `live=${live} needs an offset`);
    }
    const cursor = params.get('cursor') ?? undefined;
    const state = await this.streams.current(path);
    await this.streams.touch(path, state);
    if (live === 'sse')
      return this.sse(req, res, path, state, offset === NOW ? state.tail : canonical, cursor);
    if (offset === NOW && live === undefined) {
      setHeaders(res, {
        'Content-Type': state.contentType,
        'Stream-Next-Offset': state.tail,
        'Stream-Up-To-Date': 'true',
        'Cache-Control': 'no-store',
      });
      if (state.closed) setHeaders(res, 'Stream-Closed', 'true');
      res.status(HttpStatus.OK).end(isJsonContentType(state.contentType) ? '[]' : '');
      return;
    }
    const after = offset === NOW ? state.tail : canonical;
    let result = await this.streams.read(path, after);
    if (live === 'long-poll' && result.messages.length === 0) {
      if (result.closedAtTail) {
        setHeaders(res, {
          'Stream-Next-Offset': result.next,
          'Stream-Up-To-Date': 'true',
          'Stream-Closed': 'true',
          'Stream-Cursor': responseCursor(cursor),
        });
        res.status(HttpStatus.NO_CONTENT).end();
        return;
      }
      const waited = await this.longPoll(req, res, path, after ?? result.next);
      if (!waited) return;
      result = waited;
      if (result.messages.length === 0) {
        setHeaders(res, {
          'Stream-Next-Offset': after ?? result.next,
          'Stream-Up-To-Date': 'true',
          'Stream-Cursor': responseCursor(cursor),
        });
        if (result.closedAtTail) setHeaders(res, 'Stream-Closed', 'true');
        res.status(HttpStatus.NO_CONTENT).end();
        return;
      }
    }
    this.sendCatchUp(
      req,
      res,
      path,
      offset ?? BEGINNING,
      result,
      live === 'long-poll' ? cursor : null,
    );
  }

  private sendCatchUp(
    req: Request,
    res: Response,
    path: string,
    from: string,
    result: ReadResult,
    cursor: string | undefined | null,
  ): void {
    const tag = etag(path, from, result.next, result.closedAtTail);
    setHeaders(res, {
      'Content-Type': result.state.contentType,
      'Stream-Next-Offset': result.next,
      'Stream-Up-To-Date': 'true',
      // Stored, but revalidated every time (the same URL returns more once the stream grows).
      'Cache-Control': 'no-cache',
      ETag: tag,
    });
    if (cursor !== null) setHeaders(res, 'Stream-Cursor', responseCursor(cursor));
    if (result.closedAtTail) setHeaders(res, 'Stream-Closed', 'true');
    if (req.headers['if-none-match'] === tag) {
      res.status(HttpStatus.NOT_MODIFIED).end();
      return;
    }
    res.status(HttpStatus.OK).end(body(result.state, result.messages));
  }

  /**
   * Waits for data after `after` (a live event on the stream's topic, from any instance), at most
   * DURABLE_LONG_POLL_MS. Resolves the read once there is data or the stream closed, the read
   * with no messages on timeout, undefined when the client left.
   */
  private longPoll(
    req: Request,
    res: Response,
    path: string,
    after: string,
  ): Promise<ReadResult | undefined> {
    const ip = this.admit(req);
    return new Promise<ReadResult | undefined>((resolve, reject) => {
      let finished = false;
      let last: ReadResult | undefined;
      const finish = (value: ReadResult | undefined, error?: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        unsubscribe();
        res.off('close', onClose);
        this.release(ip);
        if (error !== undefined)
          reject(error instanceof Error ? error : new Error('long-poll failed'));
        else resolve(value);
      };
      const check = coalesced(async () => {
        try {
          last = await this.streams.read(path, after);
          if (last.messages.length > 0 || last.state.closed) finish(last);
          return !finished;
        } catch (error) {
          finish(undefined, error);
          return false;
        }
      });
      const onClose = () => finish(undefined);
      const unsubscribe = this.streams.watch(path, () => void check());
      const timer = setTimeout(() => {
        if (last) finish(last);
        else
          void this.streams.read(path, after).then(
            (r) => finish(r),
            (e: unknown) => finish(undefined, e),
          );
      }, this.config.durable.longPollMs);
      res.once('close', onClose);
      // Anything appended between the first read and the subscription.
      void check();
    });
  }

  private sse(
    req: Request,
    res: Response,
    path: string,
    state: StreamState,
    from: string | undefined,
    clientCursor: string | undefined,
  ): void {
    const ip = this.admit(req, false);
    const base64 = !isSseText(state.contentType);
    const headers: Record<string, string> = {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      ...SECURITY_HEADERS,
    };
    if (base64) headers['Stream-SSE-Data-Encoding'] = 'base64';
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1) headers.Connection = 'keep-alive';
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    res.writeHead(HttpStatus.OK, headers);
    res.write(openingFrame(this.config.sse.retryMs));
    const connection = this.registry.open(res, 'durable-stream', ip);
    let after = from;
    let cursor = clientCursor;
    const push = coalesced(async () => {
      try {
        const result = await this.streams.read(path, after);
        if (connection.closed) return false;
        let frames = '';
        if (result.messages.length > 0)
          frames += protocolFrame('data', sseData(result.state, result.messages, base64));
        after = result.next;
        if (result.closedAtTail) {
          const closed: DurableControlEvent = { streamNextOffset: result.next, streamClosed: true };
          frames += protocolFrame('control', JSON.stringify(closed));
          connection.send(frames, this.registry.clock());
          connection.end('completed');
          return false;
        }
        cursor = responseCursor(cursor);
        const control: DurableControlEvent = {
          streamNextOffset: result.next,
          streamCursor: cursor,
          upToDate: true,
        };
        frames += protocolFrame('control', JSON.stringify(control));
        connection.send(frames, this.registry.clock());
        return !connection.closed;
      } catch (error) {
        // The stream went away (deleted, expired) or the store is down: end; the client reconnects.
        if (!(error instanceof HttpException) && !(error instanceof StoreUnavailableError))
          this.logger.error(error);
        connection.end('error');
        return false;
      }
    });
    const unsubscribe = this.streams.watch(path, () => void push());
    // Closed now and then so CDNs can collapse readers (the client resumes from its last offset).
    const lifetime = setTimeout(() => connection.end('completed'), this.config.durable.sseMaxMs);
    connection.onClose(() => {
      clearTimeout(lifetime);
      unsubscribe();
    });
    res.once('close', () => connection.released());
    void push();
  }

  /** Admission for a held request (long-poll, SSE): draining, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP. */
  private admit(req: Request, hold = true): string {
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const { maxConnections, maxConnectionsPerIp } = this.config.limits;
    const retryAfter = retryAfterSeconds(this.config.sse.retryMs);
    if (this.drain.draining) {
      throw new RetryableHttpException(
        'This instance is shutting down; retry on another instance',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfter,
      );
    }
    if (this.registry.size + this.heldTotal >= maxConnections) {
      throw new RetryableHttpException(
        'This instance has reached MAX_CONNECTIONS open streams; retry later',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfter,
      );
    }
    if (this.registry.countForIp(ip) + (this.held.get(ip) ?? 0) >= maxConnectionsPerIp) {
      throw new RetryableHttpException(
        'Too many open streams from this address (MAX_CONNECTIONS_PER_IP)',
        HttpStatus.TOO_MANY_REQUESTS,
        retryAfter,
      );
    }
    if (hold) {
      this.held.set(ip, (this.held.get(ip) ?? 0) + 1);
      this.heldTotal++;
    }
    return ip;
  }

  private release(ip: string): void {
    const count = (this.held.get(ip) ?? 1) - 1;
    if (count <= 0) this.held.delete(ip);
    else this.held.set(ip, count);
    this.heldTotal--;
  }

  /** Every error as the contract's JSON body, with the protocol headers it carries. */
  private fail(req: Request, res: Response, error: unknown): void {
    let exception = error;
    if (exception instanceof StoreUnavailableError) {
      exception = new RetryableHttpException(
        'The event store is unavailable; retry shortly',
        HttpStatus.SERVICE_UNAVAILABLE,
        1,
      );
    }
    if (!(exception instanceof HttpException)) this.logger.error(exception);
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    if (exception instanceof DurableStreamError) setHeaders(res, exception.headers);
    if (exception instanceof AbandonedBodyException) setHeaders(res, 'Connection', 'close');
    if (exception instanceof RetryableHttpException)
      setHeaders(res, 'Retry-After', String(exception.retryAfterSeconds));
    const message =
      exception instanceof HttpException ? exception.message : 'Internal server error';
    res.status(status);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.json({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
  }
}

function streamPath(req: Request): string {
  const path = req.path.slice(STREAM_PREFIX.length);
  if (!STREAM_PATH.test(path) || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new DurableStreamError(400, 'The stream path is not valid');
  }
  return path;
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseCreate(req: Request): CreateRequest {
  const rawType = header(req, 'content-type');
  const forkedFromHeader = header(req, 'stream-forked-from');
  const contentType =
    rawType !== undefined && CONTENT_TYPE.test(rawType.trim()) ? rawType.trim() : undefined;
  const ttl = header(req, 'stream-ttl');
  const expiresAt = header(req, 'stream-expires-at');
  if (ttl !== undefined && expiresAt !== undefined) {
    throw new DurableStreamError(400, 'Give Stream-TTL or Stream-Expires-At, not both');
  }
  if (ttl !== undefined && (!TTL.test(ttl) || !Number.isSafeInteger(Number(ttl)))) {
    throw new DurableStreamError(
      400,
      'Stream-TTL must be a whole number of seconds, without sign or leading zeros',
    );
  }
  if (
    expiresAt !== undefined &&
    (!RFC3339.test(expiresAt) || Number.isNaN(Date.parse(expiresAt)))
  ) {
    throw new DurableStreamError(400, 'Stream-Expires-At must be an RFC 3339 timestamp');
  }
  let forkedFrom: string | undefined;
  if (forkedFromHeader !== undefined) {
    const source = forkedFromHeader.startsWith(STREAM_PREFIX)
      ? forkedFromHeader.slice(STREAM_PREFIX.length)
      : forkedFromHeader.replace(/^\/+/, '');
    if (!STREAM_PATH.test(source))
      throw new DurableStreamError(400, 'Stream-Forked-From is not a stream path');
    forkedFrom = source;
  }
  const forkOffsetHeader = header(req, 'stream-fork-offset');
  const forkOffset = forkOffsetHeader === undefined ? undefined : parseOffset(forkOffsetHeader);
  if (forkOffsetHeader !== undefined && forkOffset === undefined) {
    throw new DurableStreamError(400, 'Stream-Fork-Offset is not an offset');
  }
  const subOffsetHeader = header(req, 'stream-fork-sub-offset');
  if (subOffsetHeader !== undefined) {
    if (forkedFrom === undefined)
      throw new DurableStreamError(400, 'Stream-Fork-Sub-Offset needs Stream-Forked-From');
    if (!TTL.test(subOffsetHeader) || !Number.isSafeInteger(Number(subOffsetHeader))) {
      throw new DurableStreamError(400, 'Stream-Fork-Sub-Offset must be a whole number');
    }
  }
  return {
    contentType: contentType ?? (forkedFrom === undefined ? 'application/octet-stream' : undefined),
    ttlSeconds: ttl === undefined ? undefined : Number(ttl),
    expiresAt,
    closed: header(req, 'stream-closed') === 'true',
    forkedFrom,
    forkOffset,
    forkSubOffset: subOffsetHeader === undefined ? undefined : Number(subOffsetHeader),
  };
}

function parseProducer(req: Request) {
  const id = header(req, 'producer-id');
  const epoch = header(req, 'producer-epoch');
  const seq = header(req, 'producer-seq');
  if (id === undefined && epoch === undefined && seq === undefined) return undefined;
  if (id === undefined || epoch === undefined || seq === undefined) {
    throw new DurableStreamError(400, 'Producer-Id, Producer-Epoch and Producer-Seq go together');
  }
  if (id === '') throw new DurableStreamError(400, 'Producer-Id must not be empty');
  for (const [name, value] of [
    ['Producer-Epoch', epoch],
    ['Producer-Seq', seq],
  ] as const) {
    if (!INTEGER.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new DurableStreamError(400, `${name} must be a whole number up to 2^53-1`);
    }
  }
  return { id, epoch: Number(epoch), seq: Number(seq) };
}

/** `"<path>:<from>:<to>[:c]"`: what a catch-up read returned, for If-None-Match. */
function etag(path: string, from: string, to: string, closed: boolean): string {
  return `"${Buffer.from(path).toString('base64url')}:${from}:${to}${closed ? ':c' : ''}"`;
}

/** SSE carries text (text/*, application/json) as is, anything else as base64. */
function isSseText(contentType: string): boolean {
  const type = normalizeContentType(contentType);
  return type.startsWith('text/') || type === 'application/json';
}

function body(state: StreamState, messages: readonly StreamMessage[]): Buffer | string {
  if (isJsonContentType(state.contentType)) return jsonArray(messages);
  return Buffer.concat(messages.map((m) => m.bytes ?? Buffer.alloc(0)));
}

function jsonArray(messages: readonly StreamMessage[]): string {
  const values: string[] = [];
  for (const message of messages)
    for (const value of message.values ?? []) values.push(JSON.stringify(value));
  return `[${values.join(',')}]`;
}

function sseData(state: StreamState, messages: readonly StreamMessage[], base64: boolean): string {
  if (isJsonContentType(state.contentType)) return jsonArray(messages);
  const bytes = Buffer.concat(messages.map((m) => m.bytes ?? Buffer.alloc(0)));
  return base64 ? bytes.toString('base64') : bytes.toString('utf8');
}

/** Headers exactly as given (Express's res.set would add a charset to Content-Type). */
function setHeaders(res: Response, headers: Record<string, string>): void;
function setHeaders(res: Response, name: string, value: string): void;
function setHeaders(res: Response, headers: Record<string, string> | string, value?: string): void {
  if (typeof headers === 'string') {
    res.setHeader(headers, value ?? '');
    return;
  }
  for (const [name, v] of Object.entries(headers)) res.setHeader(name, v);
}
