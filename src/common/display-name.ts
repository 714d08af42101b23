/**
 * Characters that show nothing on their own: controls (Cc), format characters (Cf: zero-width
 * spaces and joiners, bidi embeddings, overrides and isolates, the BOM), separators and other
 * whitespace (Z, \s), combining marks with nothing to combine with (Mn, Me: variation selectors and
 * the combining grapheme joiner too), and the letters that render as blanks (Hangul fillers, the
 * braille blank).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\p{Mn}\p{Me}\s\u115F\u1160\u3164\uFFA0\u2800]/gu;

/** Bidi controls (embeddings, overrides, isolates): they reorder what follows them on screen. */
const BIDI_CONTROL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

/**
 * Why a name cannot be shown as an author (undefined when it can): empty once the invisible
 * characters are taken out, or holding a bidi control, which would let a name display as another.
 */
export function displayNameProblem(name: string): string | undefined {
  if (name.replace(INVISIBLE, '').length === 0)
    return 'must contain a visible character (not only spaces, invisible or bidi-control characters)';
  if (BIDI_CONTROL.test(name)) return 'must not contain bidi-control characters';
  return undefined;
}
