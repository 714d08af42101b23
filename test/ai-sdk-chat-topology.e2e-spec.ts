import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import { randomUUID } from 'node:crypto';
import { FakeOpenAi } from './support/fake-openai';
import { parseExposition } from './support/metrics';
import { RedisServer } from './support/redis';
import { startTopology, type Topology } from './support/topology';
import { request } from './support/http';

/**
 * The deployed shape: two app processes on one real Redis behind the real nginx with the reference
 * config, and the AI SDK's own transport talking to nginx only. Which replica serves a request is
 * nginx's choice, so every step (send, reconnect, stop) must work on either.
 */

const TOKENS = ['Behind', ' nginx', ',', ' on', ' any', ' replica', '.'];
const ANSWER = TOKENS.join('');

jest.setTimeout(60_000);

const textOf = (message: UIMessage | undefined) =>
  (message?.parts ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('');
const userMessage = (text: string): UIMessage => ({
  id: randomUUID(),
  role: 'user',
  parts: [{ type: 'text', text }],
});

async function readAll(stream: ReadableStream<UIMessageChunk>) {
  const chunks: UIMessageChunk[] = [];
  let message: UIMessage | undefined;
  const tee = stream.pipeThrough(
    new TransformStream<UIMessageChunk, UIMessageChunk>({
      transform(chunk, controller) {
        chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  for await (const snapshot of readUIMessageStream({ stream: tee })) message = snapshot;
  return { chunks, message };
}

describe('AI SDK chats through the reference nginx, two replicas on Redis', () => {
  let redis: RedisServer;
  let fake: FakeOpenAi;
  let topology: Topology;
  const aborts: AbortController[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAi().start();
    topology = await startTopology({
      replicas: 2,
      env: {
        STORE: 'redis',
        REDIS_URL: redis.url,
        AI_PROVIDER: 'openai',
        AI_BASE_URL: fake.baseUrl,
        AI_MODEL: 'fake-model',
        AI_DETACH_GRACE_MS: '60000',
        TICKER_INTERVAL_MS: '0',
      },
    });
  });
  afterAll(async () => {
    aborts.forEach((a) => a.abort());
    await topology?.stop();
    await fake?.stop();
    await redis?.dispose();
  });

  const transport = () =>
    new DefaultChatTransport<UIMessage>({ api: `${topology.url}/api/ai/sdk/chat` });
  const signal = () => {
    const abort = new AbortController();
    aborts.push(abort);
    return abort;
  };

  it('sends, resumes after an abort, and stops, whichever replica answers each request', async () => {
    // Turn 1: read part of the answer, hang up, reconnect: the whole answer, once, one model call.
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 3 };
    const chatId = `chat-${randomUUID()}`;
    const first = signal();
    const question = userMessage('Where does this run?');
    const stream = await transport().sendMessages({
      chatId,
      messages: [question],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: first.signal,
    });
    for await (const snapshot of readUIMessageStream({ stream })) {
      if (textOf(snapshot) === TOKENS.slice(0, 3).join('')) break;
    }
    first.abort();
    const resumed = await transport().reconnectToStream({ chatId, abortSignal: signal().signal });
    expect(resumed).not.toBeNull();
    const reading = readAll(resumed!);
    fake.release();
    const answer = await reading;
    expect(textOf(answer.message)).toBe(ANSWER);
    expect(answer.chunks.filter((c) => c.type === 'start')).toHaveLength(1);
    expect(answer.chunks[answer.chunks.length - 1]).toEqual({
      type: 'finish',
      finishReason: 'stop',
    });
    expect(fake.requests).toHaveLength(1);
    expect((await request(`${topology.url}/api/ai/sdk/chat/${chatId}/stream`, 'GET')).status).toBe(
      204,
    );

    // Turn 2: two readers (the sender and a second tab), stopped with one DELETE through nginx.
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const sender = readAll(
      await transport().sendMessages({
        chatId,
        messages: [question, answer.message!, userMessage('And stop here')],
        trigger: 'submit-message',
        messageId: undefined,
        abortSignal: signal().signal,
      }),
    );
    await fake.waitForHold();
    const secondTab = readAll(
      (await transport().reconnectToStream({ chatId, abortSignal: signal().signal }))!,
    );
    // nginx's least_conn put the second reader on the replica that is not serving the sender.
    const openStreams = await Promise.all(
      topology.replicas.map(async (replica) => {
        const metrics = await request(`http://127.0.0.1:${replica.port}/metrics`, 'GET');
        return parseExposition(metrics.body).get('rivulet_sse_open_streams{kind="ai-sdk"}') ?? 0;
      }),
    );
    expect(openStreams).toEqual([1, 1]);
    const stop = await request(`${topology.url}/api/ai/sdk/chat/${chatId}/stream`, 'DELETE');
    expect(stop.status).toBe(202);
    await fake.waitForAborts(1);
    for (const reader of await Promise.all([sender, secondTab])) {
      expect(textOf(reader.message)).toBe(TOKENS.slice(0, 2).join(''));
      expect(reader.chunks[reader.chunks.length - 1]).toEqual({
        type: 'abort',
        reason: 'cancelled',
      });
    }
    expect(fake.requests).toHaveLength(2);
  });

  it('passes the protocol header and the unbuffered stream through nginx', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 1 };
    const abort = signal();
    const res = await fetch(`${topology.url}/api/ai/sdk/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: `chat-${randomUUID()}`,
        messages: [userMessage('Header?')],
        trigger: 'submit-message',
      }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    // The first delta arrives while the model still holds the rest: nothing is buffered on the way.
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('"text-delta"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended early: ${text}`);
      text += value;
    }
    expect(text).toContain(`"delta":"${TOKENS[0]}"`);
    fake.release();
    while (!(await reader.read()).done);
  });
});
