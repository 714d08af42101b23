import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { startApp, RunningApp } from './support/app';
import { mintToken, post, waitUntil } from './support/http';
import { get, RecordingEventSource } from './support/sse-client';

const SECRET = 'e2e-notifications-secret-0123456789';

describe('notifications', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const open = (url: string, init?: ConstructorParameters<typeof RecordingEventSource>[1]) => {
    const source = new RecordingEventSource(url, { types: ['notification'], ...init });
    sources.push(source);
    return source;
  };

  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  describe('in open mode (?userId= says who the caller is)', () => {
    beforeEach(async () => {
      running = await startApp();
    });

    it('sends a user their own notifications and broadcasts as event: notification, seed shape', async () => {
      const ann = open(`${running.url}/api/notifications/stream?userId=ann`);
      const ben = open(`${running.url}/api/notifications/stream?userId=ben`);
      await Promise.all([ann.waitForOpen(), ben.waitForOpen()]);
      const toAnn = await post(`${running.url}/api/notifications`, {
        userId: 'ann',
        title: 'Hi Ann',
        body: 'Only for you',
        data: { url: '/inbox' },
      });
      expect(toAnn.status).toBe(202);
      const all = await post(`${running.url}/api/notifications`, {
        broadcast: true,
        title: 'All',
        body: 'Everyone',
      });
      await ann.waitFor((e) => e.length === 2);
      await ben.waitFor((e) => e.length === 1);
      expect(ann.events[0]).toMatchObject({ type: 'notification', lastEventId: toAnn.json.id });
      expect(ann.events[0]!.json).toEqual({
        type: 'notification',
        id: toAnn.json.id,
        title: 'Hi Ann',
        body: 'Only for you',
        timestamp: expect.any(String),
        data: { url: '/inbox' },
      });
      expect(ann.events[1]!.json).toMatchObject({ id: all.json.id, title: 'All' });
      expect(ben.events.map((e) => e.json.id)).toEqual([all.json.id]);
      expect(ben.events[0]!.json).not.toHaveProperty('data');
    });

    it('delivers what was sent while the user was offline when they reconnect with their Last-Event-ID', async () => {
      const ann = open(`${running.url}/api/notifications/stream?userId=ann`);
      await ann.waitForOpen();
      const first = await post(`${running.url}/api/notifications`, {
        userId: 'ann',
        title: '1',
        body: '',
      });
      await ann.waitFor((e) => e.length === 1);
      ann.close();
      const registry = running.app.get(ConnectionRegistry);
      await waitUntil(() => registry.size === 0, 'the stream to close');
      // Offline: one to several users, one broadcast, one for someone else.
      const several = await post(`${running.url}/api/notifications`, {
        userIds: ['ann', 'ben', 'ann'],
        title: '2',
        body: '',
      });
      expect(several.status).toBe(202);
      expect(several.json.ids).toHaveLength(2);
      expect(several.json.id).toBe(several.json.ids[0]);
      await post(`${running.url}/api/notifications`, {
        userId: 'ben',
        title: 'not for ann',
        body: '',
      });
      const all = await post(`${running.url}/api/notifications`, {
        broadcast: true,
        title: '3',
        body: '',
      });
      const back = open(`${running.url}/api/notifications/stream?userId=ann`, {
        headers: { 'Last-Event-ID': first.json.id as string },
      });
      await back.waitFor((e) => e.length === 2);
      const live = await post(`${running.url}/api/notifications`, {
        userId: 'ann',
        title: '4',
        body: '',
      });
      await back.waitFor((e) => e.length === 3);
      expect(back.events.map((e) => e.json.title)).toEqual(['2', '3', '4']);
      expect(back.events.map((e) => e.lastEventId)).toEqual([
        several.json.ids[0],
        all.json.id,
        live.json.id,
      ]);
    });

    it('validates the body: exactly one target, title and body, with clear 400 messages', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ title: 't', body: 'b' }, /exactly one target/],
        [{ userId: 'a', broadcast: true, title: 't', body: 'b' }, /exactly one target/],
        [{ userId: 'a', body: 'b' }, /title: is required/],
        [{ userId: 'a', title: 't' }, /body: is required/],
        [{ userId: 'a\u0000b', title: 't', body: 'b' }, /userId: must be 1 to 255 bytes/],
        [{ userId: 'x'.repeat(256), title: 't', body: 'b' }, /userId: must be 1 to 255 bytes/],
        [{ userIds: [], title: 't', body: 'b' }, /userIds/],
        [{ broadcast: 'yes', title: 't', body: 'b' }, /broadcast: must be true or false/],
        [{ userId: 'a', title: '   ', body: 'b' }, /title: must not be empty/],
      ];
      for (const [body, message] of cases) {
        const res = await post(`${running.url}/api/notifications`, body);
        expect(res.status).toBe(400);
        expect(String(res.json.message)).toMatch(message);
      }
      const bad = await get(
        `${running.url}/api/notifications/stream?userId=${encodeURIComponent('a\nb')}`,
      );
      expect(bad.status).toBe(400);
    });
  });

  describe('with AUTH_JWT_SECRET (the token says who the caller is)', () => {
    beforeEach(async () => {
      running = await startApp({ AUTH_JWT_SECRET: SECRET });
    });

    const notifier = () => mintToken(SECRET, { sub: 'notifier', publish: ['user:*', 'broadcast'] });

    it("streams the token's own user topic (token in the access_token query parameter)", async () => {
      const token = await mintToken(SECRET, { sub: 'ann' });
      const ann = open(`${running.url}/api/notifications/stream?access_token=${token}`);
      await ann.waitForOpen();
      const auth = { Authorization: `Bearer ${await notifier()}` };
      const sent = await post(
        `${running.url}/api/notifications`,
        { userId: 'ann', title: 'yours', body: '' },
        auth,
      );
      expect(sent.status).toBe(202);
      await post(
        `${running.url}/api/notifications`,
        { userId: 'ben', title: 'not yours', body: '' },
        auth,
      );
      await post(
        `${running.url}/api/notifications`,
        { broadcast: true, title: 'all', body: '' },
        auth,
      );
      await ann.waitFor((e) => e.length === 2);
      expect(ann.events.map((e) => e.json.title)).toEqual(['yours', 'all']);
    });

    it("answers 403 to a user asking for another user's stream, 401 without a token", async () => {
      const token = await mintToken(SECRET, { sub: 'ann' });
      const other = await get(`${running.url}/api/notifications/stream?userId=ben`, {
        Authorization: `Bearer ${token}`,
      });
      expect(other.status).toBe(403);
      expect(JSON.parse(other.body)).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      const own = await get(`${running.url}/api/events?topic=user:ben`, {
        Authorization: `Bearer ${token}`,
      });
      expect(own.status).toBe(403);
      expect((await get(`${running.url}/api/notifications/stream`)).status).toBe(401);
      expect((await get(`${running.url}/api/notifications/stream?userId=ann`)).status).toBe(401);
    });

    it('lets only publisher tokens send: 401 without a token, 403 without the scope', async () => {
      const body = { broadcast: true, title: 't', body: 'b' };
      expect((await post(`${running.url}/api/notifications`, body)).status).toBe(401);
      const user = await mintToken(SECRET, { sub: 'ann', publish: ['user:*'] });
      const forbidden = await post(`${running.url}/api/notifications`, body, {
        Authorization: `Bearer ${user}`,
      });
      expect(forbidden.status).toBe(403);
      expect(forbidden.json.message).toMatch(/publishing to broadcast/);
      const ok = await post(
        `${running.url}/api/notifications`,
        { userIds: ['a', 'b'], title: 't', body: 'b' },
        {
          Authorization: `Bearer ${user}`,
        },
      );
      expect(ok.status).toBe(202);
    });
  });
});
