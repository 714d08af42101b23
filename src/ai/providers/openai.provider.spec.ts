import { AiProviderError } from '../ai-provider';
import { OpenAiProvider, parseCompletionEvent } from './openai.provider';

const chunk = (content: string) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const FINISH = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`;
const DONE = 'data: [DONE]\n\n';

/** A fetch that answers with the given body pieces, each delivered as one read. */
function fakeFetch(
  pieces: Array<string | Uint8Array>,
  init: { status?: number; hang?: boolean } = {},
) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetchImpl = (url: string | URL | Request, requestInit?: RequestInit): Promise<Response> => {
    calls.push({ url: url instanceof Request ? url.url : url.toString(), init: requestInit ?? {} });
    const encoder = new TextEncoder();
    const queue = [...pieces];
    let stream: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        stream = controller;
      },
      pull(controller) {
        const next = queue.shift();
        if (next !== undefined)
          controller.enqueue(typeof next === 'string' ? encoder.encode(next) : next);
        else if (!init.hang) controller.close();
        // hang: no more data and no end, like a stalled server.
      },
    });
    const signal = requestInit?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    // Like undici: aborting the request errors the body being read.
    signal?.addEventListener('abort', () => stream?.error(signal.reason));
    return Promise.resolve(
      new Response(body, {
        status: init.status ?? 200,
        headers: { 'Content-Type': 'text/event-stream' },
      }),
    );
  };
  return { fetchImpl, calls };
}

function provider(fetchImpl: typeof fetch, timeoutMs = 5000) {
  return new OpenAiProvider({
    baseUrl: 'http://upstream.test/v1/',
    apiKey: 'k',
    model: 'm',
    timeoutMs,
    fetch: fetchImpl,
  });
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const token of iterable) out.push(token);
  return out;
}

const ask = [{ role: 'user' as const, content: 'hi' }];

describe('parseCompletionEvent', () => {
  it('reads content deltas, the finish reason and [DONE]', () => {
    expect(parseCompletionEvent(chunk('Hi').slice(6, -2))).toEqual({
      kind: 'delta',
      content: 'Hi',
    });
    expect(parseCompletionEvent(FINISH.slice(6, -2))).toEqual({ kind: 'finish' });
    expect(parseCompletionEvent('[DONE]')).toEqual({ kind: 'done' });
    expect(
      parseCompletionEvent('{"choices":[{"delta":{"role":"assistant","content":""}}]}'),
    ).toEqual({ kind: 'ignore' });
    expect(parseCompletionEvent('{"choices":[]}')).toEqual({ kind: 'ignore' });
  });

  it('fails on an error payload and on malformed JSON', () => {
    const failureOf = (data: string): unknown => {
      try {
        parseCompletionEvent(data);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(failureOf('{"error":{"message":"overloaded","type":"server_error"}}')).toMatchObject({
      reason: 'upstream',
      detail: 'overloaded / server_error',
    });
    expect(failureOf('{"choices":[')).toMatchObject({ reason: 'malformed' });
    expect(() => parseCompletionEvent('42')).toThrow(AiProviderError);
  });
});

describe(OpenAiProvider.name, () => {
  it('posts a streaming chat completion to {base}/chat/completions', async () => {
    const { fetchImpl, calls } = fakeFetch([chunk('a'), DONE]);
    await collect(provider(fetchImpl).stream(ask, new AbortController().signal));
    expect(calls[0]!.url).toBe('http://upstream.test/v1/chat/completions');
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({
      model: 'm',
      messages: ask,
      stream: true,
    });
    expect((calls[0]!.init.headers as Record<string, string>).Authorization).toBe('Bearer k');
  });

  it('reassembles events split anywhere, even inside a UTF-8 character, and several events per read', async () => {
    const wire = chunk('Hé') + chunk('llo ') + chunk('👋') + FINISH + DONE;
    const bytes = new TextEncoder().encode(wire);
    const oneByteReads = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(
      await collect(
        provider(fakeFetch(oneByteReads).fetchImpl).stream(ask, new AbortController().signal),
      ),
    ).toEqual(['Hé', 'llo ', '👋']);
    const oneRead = fakeFetch([wire]).fetchImpl;
    expect(
      (await collect(provider(oneRead).stream(ask, new AbortController().signal))).join(''),
    ).toBe('Héllo 👋');
  });

  it('ignores comments and ends at [DONE] without reading further', async () => {
    const { fetchImpl } = fakeFetch([': keep-alive\n\n', chunk('x'), DONE, chunk('never')], {
      hang: true,
    });
    expect(await collect(provider(fetchImpl).stream(ask, new AbortController().signal))).toEqual([
      'x',
    ]);
  });

  it('accepts an answer that ends after its finish_reason without [DONE]', async () => {
    const { fetchImpl } = fakeFetch([chunk('x'), FINISH]);
    expect(await collect(provider(fetchImpl).stream(ask, new AbortController().signal))).toEqual([
      'x',
    ]);
  });

  it('fails an answer cut before its end', async () => {
    const { fetchImpl } = fakeFetch([chunk('x')]);
    await expect(
      collect(provider(fetchImpl).stream(ask, new AbortController().signal)),
    ).rejects.toMatchObject({
      reason: 'upstream',
      message: 'The AI provider ended the answer early',
    });
  });

  it('fails with a status error, keeping the upstream detail out of the message', async () => {
    const { fetchImpl } = fakeFetch(['{"error":{"message":"bad key sk-123"}}'], { status: 401 });
    const failure = collect(provider(fetchImpl).stream(ask, new AbortController().signal));
    await expect(failure).rejects.toMatchObject({
      message: 'The AI provider answered HTTP 401',
      detail: 'bad key sk-123',
    });
  });

  it('fails on an error payload in the stream after the content before it', async () => {
    const { fetchImpl } = fakeFetch([chunk('x'), 'data: {"error":{"message":"boom"}}\n\n']);
    const seen: string[] = [];
    const run = (async () => {
      for await (const token of provider(fetchImpl).stream(ask, new AbortController().signal))
        seen.push(token);
    })();
    await expect(run).rejects.toMatchObject({ reason: 'upstream' });
    expect(seen).toEqual(['x']);
  });

  it('times out when upstream goes silent', async () => {
    const { fetchImpl } = fakeFetch([chunk('x')], { hang: true });
    await expect(
      collect(provider(fetchImpl, 100).stream(ask, new AbortController().signal)),
    ).rejects.toMatchObject({
      reason: 'timeout',
    });
  });

  it('stops when the caller aborts, with the caller reason', async () => {
    const { fetchImpl } = fakeFetch([chunk('x')], { hang: true });
    const controller = new AbortController();
    const run = (async () => {
      for await (const token of provider(fetchImpl).stream(ask, controller.signal)) {
        if (token === 'x') controller.abort(new Error('cancelled'));
      }
    })();
    await expect(run).rejects.toThrow('cancelled');
  });
});
