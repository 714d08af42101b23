import { Logger } from '@nestjs/common';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { AiProvider, AiProviderError, ChatMessage } from '../ai-provider';

export interface OpenAiProviderOptions {
  /** e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (no trailing /chat/completions). */
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  /** Upstream silence (before the headers, or between two reads) after which the answer fails. */
  timeoutMs: number;
  /** The HTTP client (the global fetch; unit tests hand in their own). */
  fetch?: typeof fetch;
}

/** How much of an error body is read for the log. */
const ERROR_BODY_MAX = 4096;

/** What the parser found in one SSE event of a chat-completions stream. */
export type CompletionEvent =
  { kind: 'delta'; content: string } | { kind: 'finish' } | { kind: 'done' } | { kind: 'ignore' };

/**
 * Reads one `data:` payload of an OpenAI-compatible stream. `[DONE]` ends the answer; an `error`
 * object (some servers report failures inside a 200 stream) and a payload that is not JSON are
 * failures: skipping a malformed chunk would hand the client an answer with a hole in it.
 */
export function parseCompletionEvent(data: string): CompletionEvent {
  const trimmed = data.trim();
  if (trimmed === '[DONE]') return { kind: 'done' };
  let payload: unknown;
  try {
    payload = JSON.parse(trimmed);
  } catch {
    throw new AiProviderError(
      'malformed',
      'The AI provider sent a malformed chunk',
      trimmed.slice(0, 200),
    );
  }
  if (typeof payload !== 'object' || payload === null) {
    throw new AiProviderError(
      'malformed',
      'The AI provider sent a malformed chunk',
      trimmed.slice(0, 200),
    );
  }
  const { error, choices } = payload as { error?: unknown; choices?: unknown };
  if (error !== undefined && error !== null) {
    throw new AiProviderError(
      'upstream',
      'The AI provider reported an error',
      describeError(error),
    );
  }
  if (!Array.isArray(choices) || choices.length === 0) return { kind: 'ignore' };
  const choice = choices[0] as
    { delta?: { content?: unknown }; finish_reason?: unknown } | undefined;
  const content = choice?.delta?.content;
  if (typeof content === 'string' && content.length > 0) return { kind: 'delta', content };
  if (typeof choice?.finish_reason === 'string') return { kind: 'finish' };
  return { kind: 'ignore' };
}

function describeError(error: unknown): string {
  if (typeof error === 'string') return error;
  const { message, type, code } = error as { message?: unknown; type?: unknown; code?: unknown };
  return [message, type, code]
    .filter((v) => v !== undefined && v !== null)
    .map(String)
    .join(' / ');
}

/**
 * AI_PROVIDER=openai: POST {AI_BASE_URL}/chat/completions with `stream: true` (OpenAI, vLLM, Ollama,
 * LM Studio, llama.cpp server...), the SSE answer parsed by eventsource-parser. The request is
 * aborted when the caller's signal aborts, when the consumer stops iterating, and when upstream is
 * silent for `timeoutMs`.
 */
export class OpenAiProvider implements AiProvider {
  readonly name = 'openai';
  private readonly logger = new Logger(OpenAiProvider.name);
  private readonly endpoint: string;

  constructor(private readonly options: OpenAiProviderOptions) {
    this.endpoint = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  async *stream(messages: readonly ChatMessage[], signal: AbortSignal): AsyncIterable<string> {
    const watchdog = new AbortController();
    const requestSignal = AbortSignal.any([signal, watchdog.signal]);
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => watchdog.abort(), this.options.timeoutMs);
    };
    const failure = (error: unknown): unknown => {
      if (signal.aborted) return signal.reason ?? error;
      if (watchdog.signal.aborted) {
        return new AiProviderError(
          'timeout',
          `The AI provider sent nothing for ${this.options.timeoutMs} ms`,
        );
      }
      if (error instanceof AiProviderError) return error;
      return new AiProviderError('upstream', 'The AI provider could not be reached', String(error));
    };

    arm();
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      let response: Response;
      try {
        response = await (this.options.fetch ?? fetch)(this.endpoint, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'text/event-stream',
            ...(this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {}),
          },
          body: JSON.stringify({ model: this.options.model, messages, stream: true }),
          signal: requestSignal,
        });
      } catch (error) {
        throw failure(error);
      }
      if (!response.ok) throw await this.statusError(response);
      if (!response.body)
        throw new AiProviderError('upstream', 'The AI provider sent an empty answer');

      const pending: CompletionEvent[] = [];
      let parseFailure: AiProviderError | undefined;
      const parser = createParser({
        onEvent: (event: EventSourceMessage) => {
          if (parseFailure !== undefined) return;
          try {
            pending.push(parseCompletionEvent(event.data));
          } catch (error) {
            parseFailure =
              error instanceof AiProviderError
                ? error
                : new AiProviderError(
                    'malformed',
                    'The AI provider sent a malformed chunk',
                    String(error),
                  );
          }
        },
      });
      const decoder = new TextDecoder();
      reader = response.body.getReader();
      let finished = false;
      for (;;) {
        const read = await reader.read().catch((error: unknown) => {
          throw failure(error);
        });
        arm();
        parser.feed(decoder.decode(read.value, { stream: !read.done }));
        if (read.done) parser.reset({ consume: true });
        if (parseFailure !== undefined) throw parseFailure;
        for (const event of pending.splice(0)) {
          if (event.kind === 'done') return;
          if (event.kind === 'finish') finished = true;
          if (event.kind === 'delta') yield event.content;
        }
        if (read.done) break;
      }
      // Some servers end after the finish_reason without `[DONE]`; without either, the answer was cut.
      if (!finished)
        throw new AiProviderError('upstream', 'The AI provider ended the answer early');
    } catch (error) {
      if (error instanceof AiProviderError && error.detail) {
        this.logger.warn(`${error.message}: ${error.detail}`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      // Stopping early (abort, failure, consumer gone) releases the upstream connection at once.
      if (reader) reader.cancel().catch(() => undefined);
      if (!watchdog.signal.aborted) watchdog.abort();
    }
  }

  private async statusError(response: Response): Promise<AiProviderError> {
    let detail = '';
    try {
      detail = (await response.text()).slice(0, ERROR_BODY_MAX);
      const body = JSON.parse(detail) as { error?: unknown };
      if (body.error !== undefined) detail = describeError(body.error);
    } catch {
      // Not JSON (or unreadable): the raw text, if any, goes to the log as is.
    }
    return new AiProviderError(
      'upstream',
      `The AI provider answered HTTP ${response.status}`,
      detail || response.statusText,
    );
  }
}
