import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import type { AppConfig } from './app-config';

/** Request headers a browser client of Rivulet may send cross-origin. */
export const CORS_ALLOWED_HEADERS = [
  'Last-Event-ID',
  'Authorization',
  'Cache-Control',
  'Content-Type',
  'X-Request-Id',
  // Durable Streams (/v1/stream/*)
  'If-None-Match',
  'Stream-Seq',
  'Stream-TTL',
  'Stream-Expires-At',
  'Stream-Closed',
  'Stream-Forked-From',
  'Stream-Fork-Offset',
  'Stream-Fork-Sub-Offset',
  'Producer-Id',
  'Producer-Epoch',
  'Producer-Seq',
];

/** Response headers a cross-origin script may read. */
export const CORS_EXPOSED_HEADERS = [
  'Retry-After',
  'X-Request-Id',
  // Durable Streams (/v1/stream/*)
  'ETag',
  'Location',
  'Stream-Next-Offset',
  'Stream-Cursor',
  'Stream-Up-To-Date',
  'Stream-Closed',
  'Stream-TTL',
  'Stream-Expires-At',
  'Stream-SSE-Data-Encoding',
  'Producer-Epoch',
  'Producer-Seq',
  'Producer-Expected-Seq',
  'Producer-Received-Seq',
];

/** Methods a cross-origin script may use (PUT creates a durable stream). */
export const CORS_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS'];

/**
 * CORS from CORS_ORIGINS: an exact allow-list (never a pattern built from the variable), "*" only
 * without credentials. An origin that is not listed gets no Access-Control-Allow-Origin header.
 */
export function buildCorsOptions(cors: AppConfig['cors']): CorsOptions {
  const allowAny = cors.origins.includes('*');
  const allowed = new Set(cors.origins);
  return {
    origin: allowAny
      ? '*'
      : (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: cors.credentials,
    methods: CORS_METHODS,
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: 600,
    optionsSuccessStatus: 204,
  };
}
