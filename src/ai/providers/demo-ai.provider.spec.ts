import type { ChatMessage } from '../ai-provider';
import { demoAnswer, demoTokens, DemoAiProvider } from './demo-ai.provider';

const ask = (content: string): ChatMessage[] => [{ role: 'user', content }];

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const token of iterable) out.push(token);
  return out;
}

describe(DemoAiProvider.name, () => {
  it('gives the same answer to the same prompt, and a prompt-specific one', () => {
    expect(demoAnswer(ask('What is SSE?'))).toBe(demoAnswer(ask('What is SSE?')));
    expect(demoAnswer(ask('What is SSE?'))).toContain('You asked: "What is SSE?"');
    expect(demoAnswer(ask('a'))).not.toBe(demoAnswer(ask('b')));
  });

  it('answers the last user message and bounds the echoed prompt', () => {
    const answer = demoAnswer([
      { role: 'system', content: 'ignored' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'ignored' },
      { role: 'user', content: 'second' },
    ]);
    expect(answer).toContain('"second"');
    expect(demoAnswer(ask('x'.repeat(5000))).length).toBeLessThan(600);
  });

  it('splits into word and sub-word tokens that concatenate back to the text', () => {
    const text = demoAnswer(ask('Héllo 👋 Server-Sent Events'));
    const tokens = demoTokens(text);
    expect(tokens.join('')).toBe(text);
    expect(tokens.every((t) => Array.from(t.trim()).length <= 6)).toBe(true);
    expect(demoTokens('  lead and trail  ').join('')).toBe('  lead and trail  ');
    expect(demoTokens('Streaming tokens')).toEqual(['Stre', 'amin', 'g', ' tokens']);
  });

  it('streams the tokens of the answer', async () => {
    const provider = new DemoAiProvider(0);
    const tokens = await collect(provider.stream(ask('hi'), new AbortController().signal));
    expect(tokens).toEqual(demoTokens(demoAnswer(ask('hi'))));
  });

  it('stops as soon as the signal aborts', async () => {
    const provider = new DemoAiProvider(0);
    const controller = new AbortController();
    const seen: string[] = [];
    const run = (async () => {
      for await (const token of provider.stream(ask('hi'), controller.signal)) {
        seen.push(token);
        if (seen.length === 3) controller.abort();
      }
    })();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(3);
  });
});
