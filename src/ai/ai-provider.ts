/** One message of a conversation, as OpenAI-compatible chat APIs take it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * The AI provider port: a model that answers a conversation as a stream of content deltas.
 * The iterable ends when the answer is complete, throws AiProviderError when the model fails, and
 * stops (throwing or ending) as soon as `signal` aborts, releasing any upstream request at once.
 *
 * Adapters: DemoAiProvider (AI_PROVIDER=demo, built in, no network) and OpenAiProvider
 * (AI_PROVIDER=openai, any OpenAI-compatible chat-completions server). Chosen once in AiModule.
 */
export interface AiProvider {
  readonly name: string;
  stream(messages: readonly ChatMessage[], signal: AbortSignal): AsyncIterable<string>;
}

export const AI_PROVIDER = Symbol('AI_PROVIDER');

/** Why a provider failed; `upstream` covers errors the model server reported itself. */
export type AiFailure = 'upstream' | 'timeout' | 'malformed';

/**
 * A failed answer. `message` is safe to show to clients (upstream details, which may echo
 * credentials or internals, stay in `detail` for the server log).
 */
export class AiProviderError extends Error {
  override readonly name = 'AiProviderError';

  constructor(
    readonly reason: AiFailure,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}
