import { BadRequestException } from '@nestjs/common';
import type { Request } from 'express';
import type { z } from 'zod';

/**
 * The request body checked against `schema`, or a 400 that says what is wrong: a missing body, a
 * body sent with another Content-Type than application/json, something other than a JSON object,
 * or each invalid field as `field: reason`. (Bodies that are not JSON at all are answered 400 by the
 * body parser, bodies over MAX_BODY_BYTES 413; see app.factory.)
 */
export function parseJsonBody<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  const body: unknown = req.body;
  if (body === undefined) {
    const type = req.headers['content-type'];
    throw new BadRequestException(
      type && !req.is(['application/json', 'application/*+json'])
        ? `Content-Type must be application/json (got "${type}")`
        : 'A JSON body is required (Content-Type: application/json)',
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException('The body must be a JSON object');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new BadRequestException(
    result.error.issues
      .map((issue) =>
        issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
      )
      .join('; '),
  );
}
