import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { jsonSchemaOf, referencedSchemas } from '../common/api-docs';

/** Where the reference UI and the OpenAPI document are served. */
export const DOCS_PATH = '/docs';
export const OPENAPI_JSON_PATH = '/docs/openapi.json';

/**
 * The OpenAPI 3 document of every route, from the controllers' own decorators: stream routes as
 * `text/event-stream` with each event's schema (SseEndpoint's `events`), bodies from the zod
 * schemas the routes validate with, errors as `{statusCode, error, message}`. The two docs routes
 * themselves are added here, since SwaggerModule registers them outside any controller.
 */
export function buildApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Rivulet')
    .setDescription(
      'Server-Sent Events: resumable streams (Last-Event-ID) for AI answers, notifications, chat ' +
        'and topics on one event log. Only events of the log carry `id:`; control messages do not.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  const schemas = (document.components ??= {}).schemas ?? {};
  for (const schema of referencedSchemas.values()) {
    for (const [id, component] of Object.entries(componentsOf(schema))) schemas[id] ??= component;
  }
  document.components.schemas = schemas;
  document.paths[DOCS_PATH] = {
    get: {
      tags: ['docs'],
      summary: 'The API reference (Swagger UI)',
      responses: { 200: { description: 'an HTML page', content: { 'text/html': {} } } },
    },
  };
  document.paths[OPENAPI_JSON_PATH] = {
    get: {
      tags: ['docs'],
      summary: 'This OpenAPI document',
      responses: { 200: { description: 'OpenAPI 3', content: { 'application/json': {} } } },
    },
  };
  return document;
}

/**
 * A referenced schema as components: zod puts a schema with an id (and each member with one) under
 * `definitions`, and refers to them there; in the document they are `components.schemas`.
 */
function componentsOf(
  schema: Parameters<typeof jsonSchemaOf>[0],
): Record<string, Record<string, unknown>> {
  const jsonSchema = jsonSchemaOf(schema, 'output') as {
    definitions?: Record<string, Record<string, unknown>>;
  };
  const moved = JSON.stringify(jsonSchema.definitions ?? {}).replaceAll(
    '"#/definitions/',
    '"#/components/schemas/',
  );
  return JSON.parse(moved) as Record<string, Record<string, unknown>>;
}

/** Serves the document at /docs/openapi.json and the reference UI at /docs. */
export function serveApiDocs(app: INestApplication): void {
  SwaggerModule.setup(DOCS_PATH.slice(1), app, () => buildApiDocument(app), {
    jsonDocumentUrl: OPENAPI_JSON_PATH.slice(1),
    // Only JSON; no YAML copy to document.
    raw: ['json'],
    ui: true,
  });
}
