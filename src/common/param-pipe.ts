import type { PipeTransform } from '@nestjs/common';

/**
 * A parameter's parse function as a Nest pipe, for `@Query(name, pipe)` / `@Param(name, pipe)`:
 * the function returns the valid value or throws the HTTP error (400, or 404 for an id that names
 * nothing), so a handler receives only values it can use.
 */
export function paramPipe<I, T>(parse: (raw: I) => T): PipeTransform<I, T> {
  return { transform: (value: I) => parse(value) };
}
