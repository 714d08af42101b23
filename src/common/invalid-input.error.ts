/**
 * Input a lower layer cannot take (an event whose data JSON cannot write: nested deeper than the
 * stack allows, a cycle, a BigInt). Thrown without knowing HTTP; the global HttpExceptionFilter
 * answers `400` with its message.
 */
export class InvalidInputError extends Error {}
