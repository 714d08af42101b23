import { uiMessageChunkSchema } from 'ai';
import type { AiEvent } from '../ai-events';
import { failureMessages, openingOf, toUiMessages } from './ui-message-stream';

/** Checks every chunk against the AI SDK's own schema (the one DefaultChatTransport parses with). */
async function expectValidChunks(messages: { data?: unknown }[]): Promise<void> {
  const schema = uiMessageChunkSchema();
  for (const message of messages) {
    if (message.data === '[DONE]') continue;
    const result = await schema.validate!(message.data);
    expect(result).toEqual({ success: true, value: message.data });
  }
}

describe('toUiMessages', () => {
  it("is checked against a schema that refuses what the SDK cannot parse (the check's negative control)", async () => {
    const result = await uiMessageChunkSchema().validate!({
      type: 'error',
      message: 'no errorText',
    });
    expect(result.success).toBe(false);
  });

  const events: AiEvent[] = [
    // As an older version wrote it (the owner in the start event): it must not reach the wire.
    { type: 'start', generationId: 'g-1', owner: 'ann' } as unknown as AiEvent,
    { type: 'chunk', content: 'Hel' },
    { type: 'chunk', content: 'lo' },
    { type: 'done' },
  ];

  it('turns a whole answer into the protocol: start, text-start, deltas, text-end, finish, [DONE]', async () => {
    const messages = events.flatMap(toUiMessages);
    expect(messages.map((m) => m.data)).toEqual([
      { type: 'start', messageId: 'g-1' },
      { type: 'text-start', id: 'text' },
      { type: 'text-delta', id: 'text', delta: 'Hel' },
      { type: 'text-delta', id: 'text', delta: 'lo' },
      { type: 'text-end', id: 'text' },
      { type: 'finish', finishReason: 'stop' },
      '[DONE]',
    ]);
    await expectValidChunks(messages);
  });

  it('never sends the owner, and gives no chunk an SSE id', () => {
    const messages = events.flatMap(toUiMessages);
    expect(JSON.stringify(messages)).not.toContain('ann');
    expect(messages.every((m) => m.id === undefined)).toBe(true);
  });

  it('ends a stopped answer with abort, and a failed one with an error part and finish', async () => {
    const stopped = toUiMessages({ type: 'error', message: 'cancelled', reason: 'cancelled' });
    expect(stopped.map((m) => m.data)).toEqual([
      { type: 'text-end', id: 'text' },
      { type: 'abort', reason: 'cancelled' },
      '[DONE]',
    ]);
    const failed = toUiMessages({ type: 'error', message: 'The model failed', reason: 'upstream' });
    expect(failed.map((m) => m.data)).toEqual([
      { type: 'text-end', id: 'text' },
      { type: 'error', errorText: 'The model failed' },
      { type: 'finish', finishReason: 'error' },
      '[DONE]',
    ]);
    const abandoned = toUiMessages({ type: 'error', message: 'abandoned', reason: 'abandoned' });
    expect(abandoned[1]!.data).toEqual({
      type: 'error',
      errorText: expect.stringContaining('AI_DETACH_GRACE_MS'),
    });
    await expectValidChunks([...stopped, ...failed, ...abandoned]);
  });

  it('opens a stream whose start is gone, and ends a broken one, with valid chunks', async () => {
    expect(openingOf('g-2').map((m) => m.data)).toEqual([
      { type: 'start', messageId: 'g-2' },
      { type: 'text-start', id: 'text' },
    ]);
    const failure = failureMessages('gone');
    expect(failure[failure.length - 1]!.data).toBe('[DONE]');
    await expectValidChunks([...openingOf('g-2'), ...failure]);
  });
});
