import { spawn } from 'node:child_process';
import { buildAppOnce } from './support/app-process';
import { decodeUserId, encodeUserId, userTopic } from '../src/common/topic-names';
import { RunningApp, startApp } from './support/app';
import { mintToken, post } from './support/http';
import { get, RecordingEventSource } from './support/sse-client';

/** Who a request speaks for: chat authors, identity providers' subjects, token times, the secret. */

const SECRET = 'e2e-identity-secret-0123456789abcdef';
/** The compiled entry point, for the start-up checks. */
let mainJs = '';
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('identity with AUTH_JWT_SECRET', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const open = (url: string) => {
    const source = new RecordingEventSource(url, { types: ['notification'] });
    sources.push(source);
    return source;
  };

  beforeEach(async () => {
    running = await startApp({ AUTH_JWT_SECRET: SECRET, AUTH_CLOCK_SKEW_MS: '30000' });
  });
  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  describe('chat authors', () => {
    const say = (body: unknown, token: string) =>
      post(`${running.url}/api/chat/lobby/message`, body, bearer(token));

    it("posts under the token's subject, whatever `user` the body claims", async () => {
      const room = open(`${running.url}/api/chat/lobby`);
      await room.waitForOpen();
      const ann = await mintToken(SECRET, { sub: 'ann', publish: ['chat:*'] });
      expect((await say({ user: 'bob', text: 'I am bob' }, ann)).status).toBe(201);
      expect((await say({ text: 'no user given' }, ann)).status).toBe(201);
      const named = await mintToken(SECRET, { sub: 'u-1', name: 'Ann Lee', publish: ['chat:*'] });
      expect((await say({ user: 'bob', text: 'named' }, named)).status).toBe(201);
      await room.waitFor((events) => events.length === 3);
      expect(room.events.map((e) => [e.json.user, e.json.text])).toEqual([
        ['ann', 'I am bob'],
        ['ann', 'no user given'],
        ['Ann Lee', 'named'],
      ]);
    });

    it('falls back to the subject when the display name is invisible, and refuses a token with neither', async () => {
      const room = open(`${running.url}/api/chat/lobby`);
      await room.waitForOpen();
      const blank = await mintToken(SECRET, {
        sub: 'carol',
        name: '\u200B\u202E',
        publish: ['chat:*'],
      });
      expect((await say({ text: 'hi' }, blank)).status).toBe(201);
      await room.waitFor((events) => events.length === 1);
      expect(room.events[0]!.json.user).toBe('carol');
      const service = await mintToken(SECRET, { publish: ['chat:*'] });
      const refused = await say({ user: 'bob', text: 'as bob' }, service);
      expect(refused.status).toBe(403);
      expect(refused.json).toMatchObject({
        statusCode: 403,
        message: expect.stringMatching(/sub/),
      });
    });
  });

  describe("identity providers' subjects get personal notifications", () => {
    const subjects = [
      'auth0|abc123',
      'google-oauth2|1029384756',
      'ann@example.com',
      'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', // Keycloak
      'us-east-1:0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0', // Cognito identity id
      'CN=Ann Lee,O=Example', // an X.509 subject
      'Zoë Åström',
    ];

    it.each(subjects)('%s: the stream is personal, and sending to it works', async (sub) => {
      const token = await mintToken(SECRET, { sub });
      const mine = open(`${running.url}/api/notifications/stream?access_token=${token}`);
      await mine.waitForOpen();
      const notifier = await mintToken(SECRET, { sub: 'n', publish: ['user:*', 'broadcast'] });
      const sent = await post(
        `${running.url}/api/notifications`,
        { userId: sub, title: 'yours', body: '' },
        bearer(notifier),
      );
      expect(sent.status).toBe(202);
      // A look-alike id is somebody else: encoding never merges two subjects into one topic.
      const lookAlike = sub.replace(/[^A-Za-z0-9]/g, '_');
      const other = await post(
        `${running.url}/api/notifications`,
        { userId: lookAlike, title: 'not yours', body: '' },
        bearer(notifier),
      );
      expect(other.status).toBe(202);
      await post(
        `${running.url}/api/notifications`,
        { broadcast: true, title: 'all', body: '' },
        bearer(notifier),
      );
      await mine.waitFor((events) => events.length === 2);
      expect(mine.events.map((e) => e.json.title)).toEqual(['yours', 'all']);
      // The topic itself, by name, is theirs alone.
      const topic = userTopic(sub);
      const own = await get(`${running.url}/api/events?topic=${encodeURIComponent(topic)}`, {
        ...bearer(await mintToken(SECRET, { sub: 'bob' })),
      });
      expect(own.status).toBe(403);
    });

    it('encodes reversibly, keeps simple ids as they were, and never maps two ids to one topic', () => {
      expect(userTopic('ann')).toBe('user:ann');
      expect(userTopic('ann.lee_42-x')).toBe('user:ann.lee_42-x');
      expect(userTopic('auth0|abc123')).toBe('user:auth0:7Cabc123');
      expect(userTopic('ann@example.com')).toBe('user:ann:40example.com');
      for (const sub of [...subjects, 'a:7C', 'a|', ':', 'ü']) {
        expect(decodeUserId(encodeUserId(sub))).toBe(sub);
      }
      expect(encodeUserId('a:7C')).not.toBe(encodeUserId('a|'));
      expect(decodeUserId('a:7c')).toBeUndefined(); // lower-case hex is no encoding of anything
    });

    it('refuses a notification target with control characters (400)', async () => {
      const notifier = await mintToken(SECRET, { sub: 'n', publish: ['user:*'] });
      const res = await post(
        `${running.url}/api/notifications`,
        { userId: 'ann\nbob', title: 't', body: '' },
        bearer(notifier),
      );
      expect(res.status).toBe(400);
    });
  });

  describe('token times', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const stream = (token: string) => get(`${running.url}/api/notifications/stream`, bearer(token));

    it('refuses a token issued in the future beyond the clock skew (401)', async () => {
      const future = await mintToken(SECRET, { sub: 'ann', issuedAt: now() + 3600 }, '2h');
      const res = await stream(future);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).message).toMatch(/issued in the future/);
    });

    it('control: a token issued a few seconds ahead (within the skew) is accepted', async () => {
      const ahead = await mintToken(SECRET, { sub: 'ann', issuedAt: now() + 10 }, '2h');
      const s = open(`${running.url}/api/notifications/stream?access_token=${ahead}`);
      await s.waitForOpen();
    });

    it('applies the same skew to exp and nbf', async () => {
      const justExpired = await mintToken(SECRET, { sub: 'ann', issuedAt: now() - 100 }, '-10s');
      const s = open(`${running.url}/api/notifications/stream?access_token=${justExpired}`);
      await s.waitForOpen();
      const longExpired = await mintToken(SECRET, { sub: 'ann', issuedAt: now() - 100 }, '-60s');
      expect((await stream(longExpired)).status).toBe(401);
      const soon = await mintToken(SECRET, { sub: 'ann', notBefore: now() + 10 });
      const t = open(`${running.url}/api/notifications/stream?access_token=${soon}`);
      await t.waitForOpen();
      const later = await mintToken(SECRET, { sub: 'ann', notBefore: now() + 120 });
      const res = await stream(later);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).message).toMatch(/not valid yet/);
    });
  });
});

describe('chat names in open mode', () => {
  let running: RunningApp;
  beforeAll(async () => (running = await startApp()));
  afterAll(() => running.close());

  it.each([
    ['zero-width spaces', '\u200B\u200B'],
    ['a bidi override', '\u202E'],
    ['bidi isolates and marks', '\u2066\u200F\u2069'],
    ['a Hangul filler', '\u3164'],
    ['a BOM and a word joiner', '\uFEFF\u2060'],
    ['combining marks alone', '\u0301\u0301'],
  ])('refuses a name made only of %s (400)', async (_what, user) => {
    const res = await post(`${running.url}/api/chat/lobby/message`, { user, text: 'hi' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ statusCode: 400, message: expect.stringMatching(/user/) });
  });

  it('refuses a visible name with a bidi override inside (it would display as another)', async () => {
    const res = await post(`${running.url}/api/chat/lobby/message`, {
      user: 'ann\u202Enimda',
      text: 'hi',
    });
    expect(res.status).toBe(400);
  });

  it('control: ordinary names, accents, scripts and emoji are accepted', async () => {
    for (const user of ['ann', 'Zoë', 'José María', '山田', 'ann 🙂', 'ليلى']) {
      const res = await post(`${running.url}/api/chat/lobby/message`, { user, text: 'hi' });
      expect(res.status).toBe(201);
    }
  });
});

/** Runs the compiled app (buildAppOnce: what `npm start` runs) with a given environment. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('the production secret', () => {
  // A process start is slow on a loaded machine: the bounds below only catch a hang.
  jest.setTimeout(120_000);
  beforeAll(async () => {
    mainJs = await buildAppOnce();
  }, 300_000);

  it('refuses to start with a short AUTH_JWT_SECRET, saying why, without echoing it', async () => {
    const { code, stderr } = await runMain({ NODE_ENV: 'production', AUTH_JWT_SECRET: 'a' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/AUTH_JWT_SECRET: must be at least 32 bytes when NODE_ENV=production/);
    expect(stderr).not.toContain('"a"');
  });

  it('counts bytes: 31 bytes are refused, 32 accepted (the process gets past configuration)', async () => {
    const short = await runMain({ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(31) });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/at least 32 bytes/);
    // Control: 32 bytes pass validation; PORT=-1 then stops it, naming PORT and not the secret.
    const ok = await runMain({
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: 'x'.repeat(32),
      PORT: '-1',
    });
    expect(ok.code).toBe(1);
    expect(ok.stderr).toContain('PORT: ');
    expect(ok.stderr).not.toContain('AUTH_JWT_SECRET');
  });
});
