import { BadRequestException } from '@nestjs/common';

export const DEFAULT_TYPEWRITER_TEXT =
  'Hello! This answer is streamed to you one character at a time with Server-Sent Events. ' +
  'Drop the connection and it picks up exactly where it left off.';

/** `?text=`: optional, 1..maxLength characters (counted as Unicode code points). */
export function parseTypewriterText(raw: unknown, maxLength: number): string[] {
  if (raw === undefined) return Array.from(DEFAULT_TYPEWRITER_TEXT);
  if (typeof raw !== 'string')
    throw new BadRequestException('text must be given once, as a string');
  const chars = Array.from(raw);
  if (chars.length === 0) throw new BadRequestException('text must not be empty');
  if (chars.length > maxLength) {
    throw new BadRequestException(`text must be at most ${maxLength} characters long`);
  }
  return chars;
}
