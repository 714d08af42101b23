import { BadRequestException, StandardSchemaValidationPipe } from '@nestjs/common';

/**
 * The pipe for Nest 12's `@Param(name, { schema, pipes: [schemaParam] })`: validates the value
 * with the route's Standard Schema (zod) and refuses it with a 400 whose `message` is one string,
 * the schema's own messages joined, as every other 400 of this API.
 */
export const schemaParam = new StandardSchemaValidationPipe({
  exceptionFactory: (issues) =>
    new BadRequestException(issues.map((issue) => issue.message).join('; ')),
});
