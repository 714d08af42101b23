// The callbacks given to page.evaluate / waitForFunction run in Chromium: they need the DOM types.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { demoAnswer } from '../src/ai/providers/demo-ai.provider';
import { RunningApp, startApp } from './support/app';
import { launchChromium, screenshotPath, trackPageErrors } from './support/browser';

/**
 * The chat, notifications, AI and monitor demo pages in real Chromium against the real endpoints:
 * what two users see of each other, an AI answer surviving a page reload, live monitor samples.
 * Each test ends with a screenshot of its page holding real data (test-artifacts/screenshots/).
 */
// Real browser work (launch, page loads, reloads) takes seconds, not milliseconds.
jest.setTimeout(60_000);

describe('demo pages in Chromium (chat, notifications, AI, monitor)', () => {
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const apps: RunningApp[] = [];

  const start = async (env: Record<string, string> = {}) => {
    const running = await startApp(env);
    apps.push(running);
    return running;
  };
  const newPage = async (): Promise<{ page: Page; errors: string[] }> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    return { page, errors: trackPageErrors(page) };
  };
  const waitForPill = (page: Page, state: string) =>
    page.waitForFunction(
      (expected) => document.querySelector('#status')?.getAttribute('data-state') === expected,
      state,
    );

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    for (const running of apps.splice(0)) await running.close();
  });

  it('chat: two browser contexts in one room see each other’s messages, in order, once', async () => {
    const running = await start();
    const alice = await newPage();
    const bob = await newPage();
    await alice.page.goto(`${running.url}/chat.html?room=lobby&name=alice`);
    await bob.page.goto(`${running.url}/chat.html?room=lobby&name=bob`);
    await waitForPill(alice.page, 'open');
    await waitForPill(bob.page, 'open');

    await alice.page.fill('#message', 'hello bob');
    await alice.page.click('#send');
    await bob.page.waitForFunction(
      () => document.querySelectorAll('#chat-log .bubble[data-id]').length === 1,
    );
    await bob.page.fill('#message', 'hi alice');
    await bob.page.click('#send');

    for (const { page } of [alice, bob]) {
      await page.waitForFunction(
        () => document.querySelectorAll('#chat-log .bubble[data-id]').length === 2,
      );
      const texts = await page.$$eval('#chat-log .bubble[data-id] .text', (nodes) =>
        nodes.map((n) => n.textContent),
      );
      expect(texts).toEqual(['hello bob', 'hi alice']);
    }
    // Each side shows its own message as "mine".
    expect(
      await alice.page.$$eval('#chat-log .bubble.mine .text', (n) => n.map((x) => x.textContent)),
    ).toEqual(['hello bob']);
    expect(
      await bob.page.$$eval('#chat-log .bubble.mine .text', (n) => n.map((x) => x.textContent)),
    ).toEqual(['hi alice']);
    // Another room hears nothing.
    const other = await newPage();
    await other.page.goto(`${running.url}/chat.html?room=elsewhere&name=carol`);
    await waitForPill(other.page, 'open');
    await alice.page.fill('#message', 'only for the lobby');
    await alice.page.click('#send');
    await bob.page.waitForFunction(
      () => document.querySelectorAll('#chat-log .bubble[data-id]').length === 3,
    );
    expect(await other.page.$$eval('#chat-log .bubble[data-id]', (n) => n.length)).toBe(0);
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#chat-log .bubble[data-id]').length === 3,
    );
    await alice.page.screenshot({ path: screenshotPath('chat-live-desktop'), fullPage: true });
    expect([...alice.errors, ...bob.errors, ...other.errors]).toEqual([]);
  });

  it('notifications: a notification reaches the right user only; a broadcast reaches both', async () => {
    const running = await start();
    const alice = await newPage();
    const bob = await newPage();
    const streams: string[] = [];
    for (const { page } of [alice, bob]) {
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.pathname === '/api/notifications/stream')
          streams.push(url.searchParams.get('userId') ?? '');
      });
    }
    await alice.page.goto(`${running.url}/notifications.html?user=alice`);
    await bob.page.goto(`${running.url}/notifications.html?user=bob`);
    await waitForPill(alice.page, 'open');
    await waitForPill(bob.page, 'open');
    // Open mode: each page names its user with ?userId= on the stream.
    expect(streams.sort()).toEqual(['alice', 'bob']);

    // Sent from Bob's page, addressed to Alice.
    await bob.page.fill('#to-user', 'alice');
    await bob.page.fill('#title', 'For Alice');
    await bob.page.click('#send-button');
    await bob.page.waitForFunction(() =>
      document.querySelector('#send-result')?.textContent?.startsWith('Sent'),
    );
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#notifications li').length === 1,
    );
    expect(await alice.page.textContent('#notifications li strong')).toBe('For Alice');

    await bob.page.check('#broadcast');
    await bob.page.fill('#title', 'For everyone');
    await bob.page.fill('#body', 'Maintenance tonight at 22:00.');
    await bob.page.click('#send-button');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#notifications li').length === 2,
    );
    await bob.page.waitForFunction(
      () => document.querySelectorAll('#notifications li').length === 1,
    );
    // Newest first; Bob never saw Alice's own notification.
    const titles = (page: Page) =>
      page.$$eval('#notifications li strong', (n) => n.map((x) => x.textContent));
    expect(await titles(alice.page)).toEqual(['For everyone', 'For Alice']);
    expect(await titles(bob.page)).toEqual(['For everyone']);
    expect(await alice.page.textContent('#unread')).toBe('2');
    expect(await bob.page.textContent('#unread')).toBe('1');
    await alice.page.screenshot({
      path: screenshotPath('notifications-live-desktop'),
      fullPage: true,
    });
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  });

  it('AI chat: an answer resumes after a page reload mid-answer, from the same generation, without loss', async () => {
    // 60 ms a token and a long prompt (echoed in the answer): the answer takes seconds, so the
    // reload surely lands in the middle of it.
    const running = await start({ AI_PROVIDER: 'demo', AI_DEMO_TOKEN_MS: '60' });
    const question =
      'Tell me about Server-Sent Events: how does a browser resume a stream after a reload, and why do ids matter?';
    const expected = demoAnswer([{ role: 'user', content: question }]);
    const { page, errors } = await newPage();
    const resumes: Array<{ url: string; lastEventId: string | undefined }> = [];
    /** POSTs that start a generation (the page's readiness probe posts `{}`, which starts none). */
    const generationPosts: string[] = [];
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (
        request.method() === 'POST' &&
        path === '/api/ai/chat' &&
        request.postData()?.includes('"messages"')
      ) {
        generationPosts.push(request.postData() ?? '');
      }
      if (request.method() === 'GET' && path.startsWith('/api/ai/chat/')) {
        resumes.push({ url: request.url(), lastEventId: request.headers()['last-event-id'] });
      }
    });
    await page.goto(`${running.url}/ai.html`);
    await page.fill('#prompt', question);
    await page.click('#send');
    const before = (await (
      await page.waitForFunction(() => {
        const text = document.querySelector('#live-answer .content')?.textContent ?? '';
        const generation = document.querySelector('#generation')?.textContent ?? '';
        return text.length > 20 && generation !== '–' ? { text, generation } : false;
      })
    ).jsonValue()) as { text: string; generation: string };
    expect(expected.startsWith(before.text)).toBe(true);
    expect(before.text.length).toBeLessThan(expected.length);

    await page.reload();
    // The reloaded page shows the partial answer at once and resumes it.
    await page.waitForSelector('#live-answer');
    // The answer completes on the reloaded page: one assistant turn holding the whole demo answer,
    // every token once, in order.
    await page.waitForFunction(
      () => !document.querySelector('#live-answer') && document.querySelector('.turn.assistant'),
    );
    const answer = await page.$$eval('.turn.assistant .content', (n) =>
      n.map((x) => x.textContent ?? ''),
    );
    expect(answer).toEqual([expected]);
    expect(await page.$$eval('.turn.user .content', (n) => n.map((x) => x.textContent))).toEqual([
      question,
    ]);
    // Resumed the same generation with a Last-Event-ID, never asked again.
    expect(generationPosts).toHaveLength(1);
    expect(resumes.length).toBeGreaterThanOrEqual(1);
    expect(resumes[0]!.url).toContain(`/api/ai/chat/${before.generation}`);
    expect(resumes[0]!.lastEventId).toMatch(/^\d+$/);
    expect(await page.evaluate(() => localStorage.getItem('rivulet:ai:pending'))).toBeNull();
    await waitForPill(page, 'complete');
    await page.screenshot({ path: screenshotPath('ai-resumed-desktop'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('monitor: samples fill the tiles with numbers and the chart draws them', async () => {
    const running = await start({ MONITOR_INTERVAL_MS: '50' });
    const { page, errors } = await newPage();
    await page.goto(`${running.url}/monitor.html`);
    await waitForPill(page, 'open');
    await page.waitForFunction(
      () => Number(document.querySelector('#chart')?.getAttribute('data-samples')) >= 5,
    );
    expect(await page.textContent('#sample-info')).toMatch(/^Last sample at /);
    for (const tile of ['#cpu', '#memory', '#disk']) {
      const text = (await page.textContent(tile)) ?? '';
      expect({ tile, text }).toEqual({ tile, text: expect.stringMatching(/^\d{1,3}\.\d%$/) });
      const width = await page.$eval(`${tile}-meter`, (el) =>
        parseFloat((el as HTMLElement).style.width),
      );
      expect(width).toBeGreaterThanOrEqual(0);
      expect(width).toBeLessThanOrEqual(100);
    }
    // Memory and disk are never 0% on a live machine: their meters are filled.
    for (const meter of ['#memory-meter', '#disk-meter']) {
      expect(
        await page.$eval(meter, (el) => parseFloat((el as HTMLElement).style.width)),
      ).toBeGreaterThan(0);
    }
    // This page's own stream counts: at least one connection, of kind monitor.
    expect(Number(await page.textContent('#connections'))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#connections-detail')).toMatch(/monitor \d+/);
    expect(await page.textContent('#cpu-detail')).toMatch(/cores/);
    expect(await page.textContent('#memory-detail')).toMatch(/ of .*B/);
    expect(await page.textContent('#disk-detail')).toMatch(/free of/);
    // The chart draws the series: the memory line's colour is on the canvas.
    const memoryPixels = await page.evaluate(() => {
      const canvas = document.querySelector('#chart') as HTMLCanvasElement;
      const hex = getComputedStyle(document.documentElement).getPropertyValue('--accent-2').trim();
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (
          Math.abs(data[i]! - r!) < 8 &&
          Math.abs(data[i + 1]! - g!) < 8 &&
          Math.abs(data[i + 2]! - b!) < 8
        )
          count++;
      }
      return count;
    });
    expect(memoryPixels).toBeGreaterThan(50);
    await page.screenshot({ path: screenshotPath('monitor-live-desktop'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
