// The callbacks given to page.evaluate / waitForFunction run in Chromium: they need the DOM types.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { RunningApp, startApp } from './support/app';
import { launchChromium, trackPageErrors } from './support/browser';
import { parseExposition } from './support/metrics';

/**
 * One connection for all tabs: the chat page's RivuletTopics (public/rivulet-client.js) in real
 * Chromium, several tabs of one browser profile against the real app. The server's own gauge
 * (rivulet_sse_open_streams) says how many streams the tabs hold; the pages' chat logs say what
 * each tab was handed, bubble by bubble (the page shows every delivery, so a repeat would show).
 */
jest.setTimeout(90_000);

describe('chat tabs sharing one stream (Web Locks leader, BroadcastChannel fan-out)', () => {
  let browser: Browser;
  let running: RunningApp;
  let context: BrowserContext;
  const errors: string[][] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    running = await startApp();
    context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  });

  afterEach(async () => {
    await context?.close();
    await running?.close();
    // No page script threw, in any tab of the test.
    expect(errors.splice(0).flat()).toEqual([]);
  });

  const openStreams = async (kind: string): Promise<number> => {
    const text = await (await fetch(`${running.url}/metrics`)).text();
    return parseExposition(text).get(`rivulet_sse_open_streams{kind="${kind}"}`) ?? 0;
  };

  /** Polls until the condition holds (the server's gauge has no push): fails after 15 s with `what`. */
  const eventually = async (what: string, condition: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const openTab = async (query: string): Promise<Page> => {
    const page = await context.newPage();
    errors.push(trackPageErrors(page));
    await page.goto(`${running.url}/chat.html?${query}`);
    await page.waitForFunction(
      () => document.querySelector('#status')?.getAttribute('data-state') === 'open',
    );
    return page;
  };

  const post = async (room: string, text: string): Promise<void> => {
    const response = await fetch(`${running.url}/api/chat/${room}/message`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'publisher', text }),
    });
    expect(response.status).toBe(201);
  };

  const texts = (page: Page) =>
    page.$$eval('#chat-log .bubble[data-id] .text', (nodes) =>
      nodes.map((n) => n.textContent ?? ''),
    );
  const ids = (page: Page) =>
    page.$$eval('#chat-log .bubble[data-id]', (nodes) =>
      nodes.map((n) => n.getAttribute('data-id') ?? ''),
    );
  const roleOf = (page: Page) => page.$eval('#share-role', (n) => n.getAttribute('data-role'));
  const waitForBubbles = (page: Page, count: number) =>
    page.waitForFunction(
      (n) => document.querySelectorAll('#chat-log .bubble[data-id]').length >= n,
      count,
      { timeout: 20_000 },
    );

  it('8 tabs of the chat page hold one stream on the server, and every tab gets every message in order', async () => {
    const tabs: Page[] = [];
    for (let i = 0; i < 8; i++) tabs.push(await openTab(`room=lobby&name=tab${i}`));

    await eventually('one topics stream', async () => (await openStreams('topics')) === 1);
    expect(await openStreams('chat')).toBe(0);
    const roles = await Promise.all(tabs.map(roleOf));
    expect(roles.filter((r) => r === 'leader')).toHaveLength(1);
    expect(roles.filter((r) => r === 'follower')).toHaveLength(7);

    const sent = Array.from({ length: 6 }, (_, i) => `message ${i}`);
    for (const text of sent) await post('lobby', text);
    for (const tab of tabs) {
      await waitForBubbles(tab, sent.length);
      expect(await texts(tab)).toEqual(sent);
    }
    expect(await openStreams('topics')).toBe(1);
  });

  it('control: with ?share=off every tab opens a stream of its own', async () => {
    const tabs: Page[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openTab(`room=lobby&name=solo${i}&share=off`));
    await eventually('three topics streams', async () => (await openStreams('topics')) === 3);
    expect(await Promise.all(tabs.map(roleOf))).toEqual(['solo', 'solo', 'solo']);
    await post('lobby', 'to each their own');
    for (const tab of tabs) {
      await waitForBubbles(tab, 1);
      expect(await texts(tab)).toEqual(['to each their own']);
    }
  });

  it('closing the leader tab mid-stream moves the stream to another tab, with no gap and no duplicate', async () => {
    const tabs: Page[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openTab(`room=lobby&name=handover${i}`));
    await eventually('one topics stream', async () => (await openStreams('topics')) === 1);

    const sent = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    for (const text of sent.slice(0, 10)) await post('lobby', text);
    for (const tab of tabs) await waitForBubbles(tab, 10);

    const roles = await Promise.all(tabs.map(roleOf));
    const leader = tabs[roles.indexOf('leader')];
    if (!leader) throw new Error(`no leader among ${roles.join(', ')}`);
    const others = tabs.filter((t) => t !== leader);
    const lastId = (await ids(leader)).at(-1);
    // What the next leader asks the server for: the stream, resumed after the last id it was handed.
    const resumes: Array<string | undefined> = [];
    for (const tab of others)
      tab.on('request', (request) => {
        if (new URL(request.url()).pathname === '/api/events')
          resumes.push(request.headers()['last-event-id']);
      });
    // The rest is published while the leader goes away: some of it lands in the handover.
    const closing = leader.close();
    for (const text of sent.slice(10)) await post('lobby', text);
    await closing;

    for (const tab of others) {
      await waitForBubbles(tab, sent.length);
      expect(await texts(tab)).toEqual(sent);
      const seen = await ids(tab);
      expect(new Set(seen).size).toBe(sent.length);
    }
    expect(resumes.length).toBeGreaterThanOrEqual(1);
    // Resumed from an id the tabs had been handed (the last one before the close, or a later one).
    expect(Number(resumes[0])).toBeGreaterThanOrEqual(Number(lastId));
    const newRoles = await Promise.all(others.map(roleOf));
    expect(newRoles.sort()).toEqual(['follower', 'leader']);
    await eventually('one topics stream again', async () => (await openStreams('topics')) === 1);
  });

  it('never shares a stream between tabs with different access tokens (control: same token, one stream)', async () => {
    /** A tab on the app's origin that subscribes to `ticker` through the client with this token. */
    const tokenTab = async (token: string) => {
      const page = await context.newPage();
      errors.push(trackPageErrors(page));
      await page.goto(`${running.url}/health/live`);
      // A string, so it reaches the browser as written (a dynamic import() would be compiled away).
      await page.evaluate(`(async () => {
        const { RivuletTopics } = await import('/rivulet-client.js');
        window.topics = new RivuletTopics({ accessToken: ${JSON.stringify(token)} });
        window.topics.subscribe('ticker', () => undefined);
      })()`);
      return page;
    };
    /** Waits until the tab's client has its role and an open stream (its own, or its leader's). */
    const settled = (page: Page, role: string) =>
      page.waitForFunction((want) => {
        const topics = (window as unknown as { topics: { role: string; status: string } }).topics;
        return topics.role === want && topics.status === 'open';
      }, role);
    // Open mode: the app ignores tokens, so the count of streams is the client's doing alone.
    await settled(await tokenTab('token-of-ann'), 'leader');
    await settled(await tokenTab('token-of-ben'), 'leader');
    await eventually('two topics streams', async () => (await openStreams('topics')) === 2);
    // The second tab of each token joins its group: a follower, with no stream of its own.
    await settled(await tokenTab('token-of-ann'), 'follower');
    await settled(await tokenTab('token-of-ben'), 'follower');
    expect(await openStreams('topics')).toBe(2);
  });

  it("merges every tab's rooms into the one stream, each tab gets only its own room, and a closed tab's room leaves it", async () => {
    const lobby = await openTab('room=lobby&name=ann');
    const side = await openTab('room=side&name=ben');
    await eventually('one topics stream', async () => (await openStreams('topics')) === 1);

    await post('lobby', 'lobby 1');
    await post('side', 'side 1');
    await post('lobby', 'lobby 2');
    await waitForBubbles(lobby, 2);
    await waitForBubbles(side, 1);
    // A third tab joins a room already in the stream: still one stream, and it hears the next one.
    const late = await openTab('room=side&name=cat');
    await post('side', 'side 2');
    await waitForBubbles(side, 2);
    await waitForBubbles(late, 1);

    expect(await texts(lobby)).toEqual(['lobby 1', 'lobby 2']);
    expect(await texts(side)).toEqual(['side 1', 'side 2']);
    expect(await texts(late)).toEqual(['side 2']);
    expect(await openStreams('topics')).toBe(1);

    // The side tabs close: the leader (the first tab) narrows the stream to the lobby, resuming
    // from the last id of the shared stream, and the lobby keeps hearing its room.
    expect(await roleOf(lobby)).toBe('leader');
    const narrowed = lobby.waitForRequest((request) => {
      const url = new URL(request.url());
      return (
        url.pathname === '/api/events' && url.searchParams.getAll('topic').join() === 'chat:lobby'
      );
    });
    const lastId = (await ids(late)).at(-1);
    await side.close();
    await late.close();
    expect((await narrowed).headers()['last-event-id']).toBe(lastId);
    await post('lobby', 'lobby 3');
    await waitForBubbles(lobby, 3);
    expect(await texts(lobby)).toEqual(['lobby 1', 'lobby 2', 'lobby 3']);
  });
});
