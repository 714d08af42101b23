import { z } from 'zod';

/** Every error answer's body (HttpExceptionFilter writes it): `{statusCode, error, message}`. */
export const errorBodySchema = z
  .object({
    statusCode: z.int().min(400).max(599),
    error: z.string().meta({ description: "the status's reason phrase, e.g. Bad Request" }),
    message: z.union([z.string(), z.array(z.string())]),
  })
  .meta({ id: 'ErrorBody' });

export type ErrorBody = z.output<typeof errorBodySchema>;
