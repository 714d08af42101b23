import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiResponse } from '@nestjs/swagger';
import { z } from 'zod';
import { errorBodySchema } from './error-body';

/** The refusals the API document lists, with what each means on this service. */
const ERROR_MEANINGS = {
  400: 'bad input: a field, a parameter, a malformed Last-Event-ID or a body that is not JSON',
  401: 'an access token is required (AUTH_JWT_SECRET is set) and none valid was given',
  403: "the token's scopes do not allow this topic, generation or chat",
  404: 'no such resource (generation, chat)',
  413: 'the body exceeds MAX_BODY_BYTES',
  429: 'too many open streams from this address (MAX_CONNECTIONS_PER_IP), or too many generations; see Retry-After',
  503: 'draining for shutdown, MAX_CONNECTIONS reached, or the event store unreachable; see Retry-After',
} as const;

export type DocumentedError = keyof typeof ERROR_MEANINGS;

/** Documents the error answers a route can give, each with the `{statusCode, error, message}` body. */
export function ApiErrors(...statuses: DocumentedError[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => ApiErrorResponse(status, ERROR_MEANINGS[status])),
  );
}

/** Documents one error answer with its own meaning, and the `{statusCode, error, message}` body. */
export function ApiErrorResponse(
  status: number,
  description: string,
): MethodDecorator & ClassDecorator {
  // As JSON, also on a stream route (whose other answers are text/event-stream).
  return ApiResponse({
    status,
    description,
    content: { 'application/json': { schema: schemaRef(errorBodySchema) } },
  });
}

/**
 * The schemas referenced by `schemaRef` (an id from `.meta({ id })`), which the document lists
 * under `components.schemas` (buildApiDocument): for a response whose content types each have
 * their own schema, where `standardSchema` would give all of them the same one.
 */
export const referencedSchemas = new Map<string, z.ZodType>();

/** A `$ref` to a zod schema with a `.meta({ id })`, listed in the document's components. */
export function schemaRef(schema: z.ZodType): { $ref: string } {
  const id = z.globalRegistry.get(schema)?.id;
  if (id === undefined) throw new Error('schemaRef needs a schema with .meta({ id })');
  referencedSchemas.set(id, schema);
  return { $ref: `#/components/schemas/${id}` };
}

/**
 * Documents a JSON request body from the zod schema the route validates it with (its input side:
 * defaults make a field optional), so the document and the validation cannot drift apart.
 */
export function ApiJsonBody(schema: z.ZodType, description?: string): MethodDecorator {
  return ApiBody({ description, required: true, schema: jsonSchemaOf(schema, 'input') as never });
}

/** A zod schema as an OpenAPI 3.0 schema object (what @nestjs/swagger embeds). */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const jsonSchema = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  delete jsonSchema.$schema;
  return jsonSchema;
}
