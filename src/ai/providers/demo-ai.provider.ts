import { setTimeout as delay } from 'node:timers/promises';
import type { AiProvider, ChatMessage } from '../ai-provider';

const PROMPT_ECHO_MAX = 200;
const LONG_WORD = 6;
const SUB_WORD = 4;

const CLOSINGS = [
  'Drop the connection halfway and reconnect: the answer resumes exactly where it stopped.',
  'Every chunk is an event of the log with its own id, so a reconnect never repeats or skips a token.',
  'Point AI_PROVIDER at an OpenAI-compatible server to get real answers through the same stream.',
  'Nobody listening? After AI_DETACH_GRACE_MS the generation stops, and so does its cost.',
];

/** FNV-1a over UTF-16 units: a small, stable hash so the same prompt always picks the same closing. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The demo model's whole answer to a conversation: a pure function of the last user message. */
export function demoAnswer(messages: readonly ChatMessage[]): string {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const prompt = (lastUser?.content ?? '').replace(/\s+/g, ' ').trim();
  const chars = Array.from(prompt);
  const echo =
    chars.length > PROMPT_ECHO_MAX ? `${chars.slice(0, PROMPT_ECHO_MAX).join('')}...` : prompt;
  const closing = CLOSINGS[hash(prompt) % CLOSINGS.length]!;
  return (
    `You asked: "${echo}". This is Rivulet's built-in demo model: it needs no network and gives the ` +
    `same answer to the same question, streamed token by token over Server-Sent Events. ${closing}`
  );
}

/**
 * Splits a text into model-like tokens: a word with its leading whitespace, long words cut into
 * sub-words. The tokens concatenate back to the exact text.
 */
export function demoTokens(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.matchAll(/\s*\S+|\s+$/g)) {
    const piece = match[0];
    const lead = /^\s*/.exec(piece)![0];
    const word = Array.from(piece.slice(lead.length));
    if (word.length <= LONG_WORD) {
      tokens.push(piece);
      continue;
    }
    for (let i = 0; i < word.length; i += SUB_WORD) {
      tokens.push((i === 0 ? lead : '') + word.slice(i, i + SUB_WORD).join(''));
    }
  }
  return tokens;
}

/** AI_PROVIDER=demo: a deterministic answer, one token every `tokenMs`, no network. */
export class DemoAiProvider implements AiProvider {
  readonly name = 'demo';

  constructor(private readonly tokenMs: number) {}

  async *stream(messages: readonly ChatMessage[], signal: AbortSignal): AsyncIterable<string> {
    for (const token of demoTokens(demoAnswer(messages))) {
      // Rejects with an AbortError as soon as the signal aborts: the generation stops at once.
      await delay(this.tokenMs, undefined, { signal });
      yield token;
    }
  }
}
