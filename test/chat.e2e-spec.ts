import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { signToken } from '../src/scripts/sign-token';
import { startApp, RunningApp } from './support/app';
import { get, post } from './support/http';
import { RecordingEventSource } from './support/sse-client';

describe('chat rooms: GET /api/chat/:roomId, POST /api/chat/:roomId/message', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const open = (url: string) => {
    const source = new RecordingEventSource(url);
    sources.push(source);
    return source;
  };
  const say = (room: string, user: string, text: string, headers: Record<string, string> = {}) =>
    post(`${running.url}/api/chat/${room}/message`, { user, text }, headers);

  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  describe('in open mode', () => {
    beforeEach(async () => {
      running = await startApp();
    });

    it("lets two clients see each other's messages, with ids, and nothing from other rooms", async () => {
      const alice = open(`${running.url}/api/chat/lobby`);
      const bob = open(`${running.url}/api/chat/lobby`);
      await Promise.all([alice.waitForOpen(), bob.waitForOpen()]);
      const fromAlice = await say('lobby', 'alice', 'hi bob');
      expect(fromAlice.status).toBe(201);
      expect(fromAlice.json).toEqual({ success: true, id: expect.stringMatching(/^\d+$/) });
      await say('elsewhere', 'eve', 'not here');
      const fromBob = await say('lobby', 'bob', 'hi alice');
      for (const client of [alice, bob]) {
        await client.waitFor((e) => e.length === 2);
        expect(client.events.map((e) => e.lastEventId)).toEqual([
          fromAlice.json.id,
          fromBob.json.id,
        ]);
        expect(client.events[0]!.json).toEqual({
          type: 'message',
          roomId: 'lobby',
          user: 'alice',
          text: 'hi bob',
          timestamp: expect.any(String),
        });
      }
    });

    it('replays what a client missed when it reconnects with its Last-Event-ID', async () => {
      const carol = open(`${running.url}/api/chat/room-1`);
      await carol.waitForOpen();
      await say('room-1', 'dave', 'one');
      await carol.waitFor((e) => e.length === 1);
      running.app.get(ConnectionRegistry).closeAll(() => '');
      await say('room-1', 'dave', 'two');
      await say('room-1', 'dave', 'three');
      await carol.waitFor((e) => e.length === 3);
      await say('room-1', 'dave', 'four');
      await carol.waitFor((e) => e.length === 4);
      expect(carol.events.map((e) => e.json.text)).toEqual(['one', 'two', 'three', 'four']);
      expect(carol.opens).toBe(2);
    });

    it('validates room ids, user and text with clear 400 messages', async () => {
      const cases: Array<[string, unknown, RegExp]> = [
        ['a.b', { user: 'u', text: 't' }, /roomId must be/],
        ['x'.repeat(65), { user: 'u', text: 't' }, /roomId must be/],
        ['ok', { text: 't' }, /user: is required/],
        ['ok', { user: 'u' }, /text: is required/],
        ['ok', { user: 'u'.repeat(65), text: 't' }, /user/],
        ['ok', { user: 'u', text: ' \n ' }, /text: must not be empty/],
        ['ok', { user: 'u', text: 'x'.repeat(4001) }, /text: must be at most 4000/],
        ['ok', 'not json', /not valid JSON/],
      ];
      for (const [room, body, message] of cases) {
        const res = await post(`${running.url}/api/chat/${room}/message`, body);
        expect(res.status).toBe(400);
        expect(String(res.json.message)).toMatch(message);
      }
      // The stream route (served below Express) validates its :roomId the same way: one message.
      const stream = await get(`${running.url}/api/chat/a%20b`);
      expect(stream.status).toBe(400);
      expect(JSON.parse(stream.body)).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'roomId must be 1 to 64 letters, digits, _ or -',
      });
      expect((await say('ok', 'u', 'x'.repeat(4000))).status).toBe(201);
    });
  });

  describe('with AUTH_JWT_SECRET', () => {
    const secret = 'e2e-chat-secret-0123456789abcdef';
    beforeEach(async () => {
      running = await startApp({ AUTH_JWT_SECRET: secret });
    });

    it('keeps rooms public to read but needs a publish scope to post', async () => {
      const reader = open(`${running.url}/api/chat/lobby`);
      await reader.waitForOpen();
      expect((await say('lobby', 'anon', 'hi')).status).toBe(401);
      const other = await signToken(secret, { sub: 'ann', publish: ['chat:other'] });
      expect((await say('lobby', 'ann', 'hi', { Authorization: `Bearer ${other}` })).status).toBe(
        403,
      );
      const token = await signToken(secret, { sub: 'ann', publish: ['chat:*'] });
      expect((await say('lobby', 'ann', 'hi', { Authorization: `Bearer ${token}` })).status).toBe(
        201,
      );
      await reader.waitFor((e) => e.length === 1);
    });
  });
});
