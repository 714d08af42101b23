import { BadRequestException, NotFoundException } from '@nestjs/common';
import type { Request } from 'express';
import { parseChatIdParam, parseSdkChatRequest } from './sdk-chat-request.dto';

/** A JSON request as Express hands it over after the body parser. */
const jsonRequest = (body: unknown) =>
  ({
    body,
    headers: { 'content-type': 'application/json' },
    is: () => 'application/json',
  }) as unknown as Request;

const text = (t: string) => ({ type: 'text', text: t });
const message = (role: string, ...parts: unknown[]) => ({ id: `m-${role}`, role, parts });

describe('parseSdkChatRequest', () => {
  it("reads DefaultChatTransport's body into the model's conversation", () => {
    const parsed = parseSdkChatRequest(
      jsonRequest({
        id: 'Abc123_-',
        trigger: 'regenerate-message',
        messageId: 'm-2',
        extra: 'from the transport body option',
        messages: [
          message('system', text('Be brief.')),
          message('user', { type: 'step-start' }, text('Hel'), text('lo'), {
            type: 'data-x',
            data: 1,
          }),
          message(
            'assistant',
            { type: 'step-start' },
            { type: 'reasoning', text: 'hm' },
            text('Hi!'),
          ),
          message('assistant', text('')),
          message('user', text('Again')),
        ],
      }),
    );
    expect(parsed).toEqual({
      chatId: 'Abc123_-',
      trigger: 'regenerate-message',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi!' },
        { role: 'user', content: 'Again' },
      ],
    });
  });

  it.each([
    ['a chat id that is no path segment', { id: 'a/b' }, /^id: /],
    ['a trigger the transport does not POST', { trigger: 'resume-stream' }, /^trigger: /],
    ['no messages', { messages: [] }, /^messages: /],
    [
      'a file part',
      { messages: [message('user', { type: 'file', url: 'u', mediaType: 'a/b' })] },
      /"file" are not supported/,
    ],
    [
      'a tool part',
      { messages: [message('user', text('x'), { type: 'tool-weather', toolCallId: 't' })] },
      /"tool-weather" are not supported/,
    ],
    [
      'a user message without text',
      { messages: [message('user', { type: 'step-start' })] },
      /messages\.0: must contain text/,
    ],
    [
      'an answer to nothing',
      { messages: [message('user', text('q')), message('assistant', text('a'))] },
      /last message must be the user message/,
    ],
    [
      'a message over 8000 characters',
      { messages: [message('user', text('x'.repeat(8001)))] },
      /at most 8000/,
    ],
  ])('refuses %s with a 400 that says why', (_, change, reason) => {
    const body = {
      id: 'c',
      trigger: 'submit-message',
      messages: [message('user', text('q'))],
      ...change,
    };
    const attempt = () => parseSdkChatRequest(jsonRequest(body));
    expect(attempt).toThrow(BadRequestException);
    expect(attempt).toThrow(reason);
  });
});

describe('parseChatIdParam', () => {
  it('accepts the ids the SDK and UUIDs produce, and answers 404 for anything else', () => {
    expect(parseChatIdParam('aZ09_-')).toBe('aZ09_-');
    expect(parseChatIdParam('0b7c1f2e-4d5a-4b6c-9d8e-7f6a5b4c3d2e')).toBe(
      '0b7c1f2e-4d5a-4b6c-9d8e-7f6a5b4c3d2e',
    );
    for (const bad of ['', '..', 'a b', 'x'.repeat(129)])
      expect(() => parseChatIdParam(bad)).toThrow(NotFoundException);
  });
});
