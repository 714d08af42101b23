import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import { randomUUID } from 'node:crypto';
import { aiTopic } from '../src/ai/ai-events';
import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { signToken } from '../src/scripts/sign-token';
import { RunningApp, startApp } from './support/app';
import { FakeOpenAi } from './support/fake-openai';
import { RedisServer } from './support/redis';
import { parseFrames } from './support/sse-frames';
import { JsonResponse, request } from './support/http';

/**
 * The AI SDK's own client code (`ai` 6: DefaultChatTransport and readUIMessageStream, as useChat runs
 * them) against Rivulet's /api/ai/sdk/chat on loopback, with a fake OpenAI-compatible upstream that
 * speaks the real wire format. On the memory store one instance does everything; on Redis the answer
 * starts on instance A and is resumed and stopped on instance B.
 */

const TOKENS = ['Streams', ' that', ' survive', ' a', ' page', ' reload', '.'];
const ANSWER = TOKENS.join('');

jest.setTimeout(30_000);

const textOf = (message: UIMessage | undefined) =>
  (message?.parts ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('');

const userMessage = (text: string): UIMessage => ({
  id: randomUUID(),
  role: 'user',
  parts: [{ type: 'text', text }],
});

/** Tees a chunk stream: the chunks as they pass (to assert on the wire protocol), and the stream. */
function recording(stream: ReadableStream<UIMessageChunk>): {
  chunks: UIMessageChunk[];
  stream: ReadableStream<UIMessageChunk>;
} {
  const chunks: UIMessageChunk[] = [];
  return {
    chunks,
    stream: stream.pipeThrough(
      new TransformStream<UIMessageChunk, UIMessageChunk>({
        transform(chunk, controller) {
          chunks.push(chunk);
          controller.enqueue(chunk);
        },
      }),
    ),
  };
}

/** Reads a UI message stream to its end with the SDK's reader; the last snapshot is the answer. */
async function readAnswer(stream: ReadableStream<UIMessageChunk>): Promise<{
  message: UIMessage | undefined;
  errors: unknown[];
}> {
  const errors: unknown[] = [];
  let message: UIMessage | undefined;
  for await (const snapshot of readUIMessageStream({ stream, onError: (e) => errors.push(e) })) {
    message = snapshot;
  }
  return { message, errors };
}

/** Reads until `predicate` holds for the message so far, then returns it (the reader stays open). */
async function readUntil(
  stream: ReadableStream<UIMessageChunk>,
  predicate: (message: UIMessage) => boolean,
): Promise<UIMessage> {
  for await (const snapshot of readUIMessageStream({ stream })) {
    if (predicate(snapshot)) return snapshot;
  }
  throw new Error('the stream ended before the expected part of the answer');
}

describe.each([['memory'], ['redis']] as const)('AI SDK chats on STORE=%s', (store) => {
  let redis: RedisServer | undefined;
  let fake: FakeOpenAi;
  const apps: RunningApp[] = [];
  const aborts: AbortController[] = [];

  /** Where the answer starts (A) and where it is resumed and stopped (B: another instance on Redis). */
  const startTopology = async (env: Record<string, string> = {}) => {
    const start = () =>
      startApp({
        AI_PROVIDER: 'openai',
        AI_BASE_URL: fake.baseUrl,
        AI_MODEL: 'fake-model',
        AI_DETACH_GRACE_MS: '60000',
        ...(store === 'redis' ? { STORE: 'redis', REDIS_URL: redis!.url } : {}),
        ...env,
      });
    const a = await start();
    apps.push(a);
    if (store === 'memory') return [a, a] as const;
    const b = await start();
    apps.push(b);
    return [a, b] as const;
  };
  const transportFor = (app: RunningApp, headers?: Record<string, string>) =>
    new DefaultChatTransport<UIMessage>({ api: `${app.url}/api/ai/sdk/chat`, headers });
  const send = (transport: DefaultChatTransport<UIMessage>, chatId: string, text: string) => {
    const abort = new AbortController();
    aborts.push(abort);
    const messages = [userMessage(text)];
    return {
      abort,
      messages,
      stream: transport.sendMessages({
        chatId,
        messages,
        trigger: 'submit-message',
        messageId: undefined,
        abortSignal: abort.signal,
      }),
    };
  };
  const reconnect = (transport: DefaultChatTransport<UIMessage>, chatId: string) => {
    const abort = new AbortController();
    aborts.push(abort);
    return transport.reconnectToStream({ chatId, abortSignal: abort.signal });
  };
  const logOf = (app: RunningApp) => app.app.get<EventLog>(EVENT_LOG);

  beforeAll(async () => {
    if (store === 'redis') redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.dispose();
  });
  beforeEach(async () => {
    fake = await new FakeOpenAi().start();
  });
  afterEach(async () => {
    aborts.splice(0).forEach((a) => a.abort());
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await fake.stop();
  });

  it('answers with the UI message stream protocol: start, text parts, finish, [DONE]', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS };
    const [a] = await startTopology();
    const chatId = `chat-${randomUUID()}`;
    const res = await fetch(`${a.url}/api/ai/sdk/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: chatId,
        messages: [userMessage('Say it')],
        trigger: 'submit-message',
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = await res.text();
    const data = parseFrames(body).flatMap((frame) =>
      frame.data === undefined ? [] : [frame.data],
    );
    expect(data[data.length - 1]).toBe('[DONE]');
    const parts = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(parts.map((p) => p.type)).toEqual([
      'start',
      'text-start',
      ...TOKENS.map(() => 'text-delta'),
      'text-end',
      'finish',
    ]);
    expect(parts[0]).toEqual({ type: 'start', messageId: expect.any(String) });
    const textId = parts[1].id;
    expect(parts.slice(2, -2).map((p) => p.delta)).toEqual(TOKENS);
    expect(parts.slice(1, -1).every((p) => p.id === textId)).toBe(true);
    expect(parts[parts.length - 1]).toEqual({ type: 'finish', finishReason: 'stop' });
    // The model got the conversation as text, once.
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.body.messages).toEqual([{ role: 'user', content: 'Say it' }]);
  });

  it('an answer read in part, aborted and reconnected elsewhere arrives whole, once; the model was called once', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 3 };
    const [a, b] = await startTopology();
    const chatId = `chat-${randomUUID()}`;
    const first = send(transportFor(a), chatId, 'Tell me about resumable streams');
    const partial = await readUntil(
      await first.stream,
      (m) => textOf(m) === TOKENS.slice(0, 3).join(''),
    );
    // Closing the tab: the request is aborted; the generation runs on (AI_DETACH_GRACE_MS).
    first.abort.abort();

    const resumed = await reconnect(transportFor(b), chatId);
    expect(resumed).not.toBeNull();
    const recorded = recording(resumed!);
    const reading = readAnswer(recorded.stream);
    fake.release();
    const { message, errors } = await reading;
    expect(errors).toEqual([]);
    expect(textOf(message)).toBe(ANSWER);
    // The replay is the same message (same id) from its start: the SDK replaces the partial copy.
    expect(message!.id).toBe(partial.id);
    expect(recorded.chunks.filter((c) => c.type === 'start')).toHaveLength(1);
    expect(recorded.chunks.map((c) => c.type).slice(-2)).toEqual(['text-end', 'finish']);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.aborted).toBe(false);
  });

  it('a tab that closes only detaches: with nobody back within AI_DETACH_GRACE_MS the model call is aborted', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const [a, b] = await startTopology({ AI_DETACH_GRACE_MS: '300' });
    const chatId = `chat-${randomUUID()}`;
    const first = send(transportFor(a), chatId, 'Leave me');
    const partial = await readUntil(
      await first.stream,
      (m) => textOf(m) === TOKENS.slice(0, 2).join(''),
    );
    first.abort.abort();
    // Still running right after the tab left: a reconnect would get it (the negative control).
    expect(fake.requests[0]!.aborted).toBe(false);
    await fake.waitForAborts(1);
    expect(await reconnect(transportFor(b), chatId)).toBeNull();
    const { events } = await logOf(b).readAfter([aiTopic(partial.id)], undefined);
    expect(events[events.length - 1]!.data).toMatchObject({ type: 'error', reason: 'abandoned' });
    expect(fake.requests).toHaveLength(1);
  });

  it('a reconnect after the answer finished gets null (204), and an unknown chat is a 404', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS };
    const [a, b] = await startTopology();
    const chatId = `chat-${randomUUID()}`;
    const { message } = await readAnswer(await send(transportFor(a), chatId, 'Hi').stream);
    expect(textOf(message)).toBe(ANSWER);

    expect(await reconnect(transportFor(b), chatId)).toBeNull();
    const raw = await request(`${b.url}/api/ai/sdk/chat/${chatId}/stream`, 'GET');
    expect(raw.status).toBe(204);
    expect(raw.body).toBe('');
    // Negative control: a chat nobody started is not "nothing active" but no chat at all.
    await expect(reconnect(transportFor(b), `chat-${randomUUID()}`)).rejects.toThrow(
      /No such chat/,
    );
    expect(fake.requests).toHaveLength(1);
  });

  it('DELETE stops a running answer for every reader: readers end with abort, the upstream call is aborted', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const [a, b] = await startTopology();
    const chatId = `chat-${randomUUID()}`;
    const first = send(transportFor(a), chatId, 'Count slowly');
    const onA = recording(await first.stream);
    const readingA = readAnswer(onA.stream);
    await fake.waitForHold();
    const second = await reconnect(transportFor(b), chatId);
    const onB = recording(second!);
    const readingB = readAnswer(onB.stream);

    const stop = await request(`${b.url}/api/ai/sdk/chat/${chatId}/stream`, 'DELETE');
    expect(stop.status).toBe(202);
    expect(stop.json).toEqual({ chatId, status: 'cancelled' });
    await fake.waitForAborts(1);

    const [answerA, answerB] = await Promise.all([readingA, readingB]);
    const partial = TOKENS.slice(0, 2).join('');
    for (const [answer, chunks] of [
      [answerA, onA.chunks],
      [answerB, onB.chunks],
    ] as const) {
      expect(answer.errors).toEqual([]);
      expect(textOf(answer.message)).toBe(partial);
      expect(chunks.map((c) => c.type).slice(-2)).toEqual(['text-end', 'abort']);
    }
    // Stopped is over: nothing to resume, a second stop has nothing left to do.
    expect(await reconnect(transportFor(a), chatId)).toBeNull();
    const again = await request(`${a.url}/api/ai/sdk/chat/${chatId}/stream`, 'DELETE');
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ chatId, status: 'finished' });
    expect(fake.requests).toHaveLength(1);
  });

  it('the next turn sends the whole conversation and records a new answer; a turn while one runs is a 409', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 1 };
    const [a, b] = await startTopology();
    const chatId = `chat-${randomUUID()}`;
    const transport = transportFor(a);
    const first = send(transport, chatId, 'First question');
    const reading = readAnswer(await first.stream);
    await fake.waitForHold();
    const busy = await request(`${b.url}/api/ai/sdk/chat`, 'POST', {
      body: { id: chatId, messages: [userMessage('Too soon')], trigger: 'submit-message' },
    });
    expect(busy.status).toBe(409);
    fake.release();
    const { message: answer } = await reading;
    expect(textOf(answer)).toBe(ANSWER);

    fake.behaviour = { kind: 'tokens', tokens: ['Second', ' answer'] };
    const messages = [...first.messages, answer!, userMessage('Second question')];
    const { message: next } = await readAnswer(
      await transportFor(b).sendMessages({
        chatId,
        messages,
        trigger: 'submit-message',
        messageId: undefined,
        abortSignal: undefined,
      }),
    );
    expect(textOf(next)).toBe('Second answer');
    expect(next!.id).not.toBe(answer!.id);
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]!.body.messages).toEqual([
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: ANSWER },
      { role: 'user', content: 'Second question' },
    ]);
    // Each answer is an ordinary generation in the log, under its message id.
    const { events } = await logOf(b).readAfter([aiTopic(next!.id)], undefined);
    expect(events.map((e) => (e.data as { type: string }).type)).toEqual([
      'start',
      'chunk',
      'chunk',
      'done',
    ]);
  });

  it('an upstream failure ends the answer with an error part, then finish and [DONE]', async () => {
    fake.behaviour = { kind: 'http-error', status: 500, body: '{"error":{"message":"boom"}}' };
    const [a] = await startTopology();
    const chatId = `chat-${randomUUID()}`;
    const recorded = recording(await send(transportFor(a), chatId, 'Fail please').stream);
    const { errors } = await readAnswer(recorded.stream);
    expect(recorded.chunks.map((c) => c.type)).toEqual([
      'start',
      'text-start',
      'text-end',
      'error',
      'finish',
    ]);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/\S/);
    expect(JSON.stringify(recorded.chunks)).not.toContain('boom');
  });
});

describe('AI SDK chats: bad input', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ AI_DEMO_TOKEN_MS: '1' });
  });
  afterAll(() => app.close());

  const expectError = (res: JsonResponse, status: number, message: RegExp) => {
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ statusCode: status, message: expect.stringMatching(message) });
    expect(res.headers['x-vercel-ai-ui-message-stream']).toBeUndefined();
  };
  const postChat = (body: unknown) => request(`${app.url}/api/ai/sdk/chat`, 'POST', { body });
  const ok = { id: 'chat-ok', messages: [userMessage('hi')], trigger: 'submit-message' };

  it('refuses what it cannot answer with a 400 that says why, and starts nothing', async () => {
    expectError(await postChat({ ...ok, id: 'bad id!' }), 400, /^id: /);
    expectError(await postChat({ ...ok, trigger: 'resume-stream' }), 400, /trigger/);
    expectError(await postChat({ ...ok, messages: [] }), 400, /messages/);
    expectError(
      await postChat({
        ...ok,
        messages: [
          { id: 'm', role: 'user', parts: [{ type: 'file', url: 'x', mediaType: 'a/b' }] },
        ],
      }),
      400,
      /"file" are not supported/,
    );
    expectError(
      await postChat({
        ...ok,
        messages: [userMessage('q'), { id: 'a', role: 'assistant', parts: [] }],
      }),
      400,
      /last message must be the user message/,
    );
    expectError(
      await request(`${app.url}/api/ai/sdk/chat`, 'POST', {
        rawBody: 'id=x',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      }),
      400,
      /Content-Type must be application\/json/,
    );
    expectError(
      await request(`${app.url}/api/ai/sdk/chat/bad%20id/stream`, 'GET'),
      404,
      /No such chat/,
    );
    // Positive control: the same body, valid, is answered (and UI-only parts are accepted).
    const valid = await postChat({
      ...ok,
      messages: [
        { id: 'u', role: 'user', parts: [{ type: 'step-start' }, { type: 'text', text: 'hi' }] },
      ],
    });
    expect(valid.status).toBe(200);
    expect(valid.headers['x-vercel-ai-ui-message-stream']).toBe('v1');
    expect(valid.body.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});

describe('AI SDK chats with AUTH_JWT_SECRET', () => {
  const SECRET = 'e2e-ai-sdk-chat-secret-0123456789abcdef';
  let app: RunningApp;
  let fake: FakeOpenAi;
  let ann: string;
  /** Another user, with no scopes of his own. */
  let bob: string;
  /** Another user who may start answers (publish `ai:*`, as every user who chats). */
  let carol: string;
  let admin: string;

  beforeAll(async () => {
    fake = await new FakeOpenAi().start();
    app = await startApp({
      AUTH_JWT_SECRET: SECRET,
      AI_PROVIDER: 'openai',
      AI_BASE_URL: fake.baseUrl,
      AI_MODEL: 'fake-model',
    });
    ann = await signToken(SECRET, { sub: 'ann', publish: ['ai:*'] });
    bob = await signToken(SECRET, { sub: 'bob' });
    carol = await signToken(SECRET, { sub: 'carol', publish: ['ai:*'] });
    // Whatever AiAccessService accepts for every generation: the scopes, and the admin claim.
    admin = await signToken(
      SECRET,
      { sub: 'root', subscribe: ['ai:*'], publish: ['ai:*'], admin: true },
      '5m',
    );
  });
  afterAll(async () => {
    await app.close();
    await fake.stop();
  });

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const transportAs = (token: string) =>
    new DefaultChatTransport<UIMessage>({
      api: `${app.url}/api/ai/sdk/chat`,
      headers: bearer(token),
    });

  it("a chat belongs to its starter: another user's reconnect or stop is a 404, like a chat that does not exist", async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const chatId = `chat-${randomUUID()}`;
    const abort = new AbortController();
    const reading = readAnswer(
      await transportAs(ann).sendMessages({
        chatId,
        messages: [userMessage('Mine')],
        trigger: 'submit-message',
        messageId: undefined,
        abortSignal: abort.signal,
      }),
    );
    await fake.waitForHold();
    const url = `${app.url}/api/ai/sdk/chat/${chatId}/stream`;
    const nowhere = `${app.url}/api/ai/sdk/chat/chat-${randomUUID()}/stream`;

    expect((await request(url, 'GET')).status).toBe(401);
    expect((await request(url, 'DELETE')).status).toBe(401);
    for (const target of [url, nowhere]) {
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await request(target, method, { headers: bearer(bob) });
        expect(res.status).toBe(404);
        expect(res.json).toMatchObject({ statusCode: 404, message: 'No such chat' });
      }
    }
    await expect(transportAs(bob).reconnectToStream({ chatId })).rejects.toThrow(/No such chat/);
    // Nor can another user add a turn to Ann's chat, even one who may start answers.
    const hijack = await request(`${app.url}/api/ai/sdk/chat`, 'POST', {
      body: { id: chatId, messages: [userMessage('Mine now')], trigger: 'submit-message' },
      headers: bearer(carol),
    });
    expect(hijack.status).toBe(403);

    // The owner, and a token allowed to read and cancel every generation, may.
    const resumed = await transportAs(ann).reconnectToStream({ chatId });
    expect(resumed).not.toBeNull();
    const readingResumed = readAnswer(resumed!);
    const asAdmin = await request(url, 'DELETE', { headers: bearer(admin) });
    expect(asAdmin.status).toBe(202);
    const [original, again] = await Promise.all([reading, readingResumed]);
    expect(textOf(original.message)).toBe(TOKENS.slice(0, 2).join(''));
    expect(textOf(again.message)).toBe(TOKENS.slice(0, 2).join(''));
    expect((await request(url, 'GET', { headers: bearer(ann) })).status).toBe(204);
    expect(fake.requests).toHaveLength(1);
  });

  it('starting needs a token that may start generations', async () => {
    const body = {
      id: `chat-${randomUUID()}`,
      messages: [userMessage('x')],
      trigger: 'submit-message',
    };
    const none = await request(`${app.url}/api/ai/sdk/chat`, 'POST', { body });
    expect(none.status).toBe(401);
    const reader = await signToken(SECRET, { sub: 'eve', subscribe: ['ai:*'] });
    const denied = await request(`${app.url}/api/ai/sdk/chat`, 'POST', {
      body,
      headers: bearer(reader),
    });
    expect(denied.status).toBe(403);
    expect(fake.requests).toHaveLength(1);
  });
});
