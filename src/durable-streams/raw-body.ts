import { BadRequestException, PayloadTooLargeException } from '@nestjs/common';
import type { Request } from 'express';

/**
 * Past this many times the limit, a refused body is no longer drained: the connection is closed.
 * (Below it, the client gets to finish sending and reads the 413 on a connection that stays usable;
 * answering mid-upload makes clients see a reset instead of the status.)
 */
const DRAIN_FACTOR = 16;

/** A refused body the server stopped draining: the answer goes out with `Connection: close`. */
export class AbandonedBodyException extends PayloadTooLargeException {}

/**
 * The request body as bytes, whatever its type. A body over `limit` (announced by Content-Length, or
 * counted while it streams in: chunked bodies included) is refused with 413 once it has been read
 * and dropped, never stored and never truncated.
 */
export function readRawBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = Number.isFinite(declared) && declared > limit;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) refused = true;
      if (!refused) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      if (size > limit * DRAIN_FACTOR) {
        cleanup();
        reject(new AbandonedBodyException(message(limit)));
      }
    };
    const onEnd = () => {
      cleanup();
      if (refused) reject(new PayloadTooLargeException(message(limit)));
      else resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      // The client went away mid-body: its own doing, not a server error to log with a stack
      // (a client could fill the error log with them).
      reject(
        req.aborted || (error as NodeJS.ErrnoException).code === 'ECONNRESET'
          ? new BadRequestException('The request body was not received in full')
          : error,
      );
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function message(limit: number): string {
  return `The body exceeds DURABLE_MAX_BODY_BYTES (${limit} bytes)`;
}
