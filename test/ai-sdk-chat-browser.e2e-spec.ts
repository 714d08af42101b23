import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { RunningApp, startApp } from './support/app';
import { launchChromium, screenshotPath, trackPageErrors } from './support/browser';
import { FakeOpenAi } from './support/fake-openai';

/**
 * The "AI SDK chat" demo page in real headless Chromium: the AI SDK's own React client (`useChat`
 * from @ai-sdk/react with `resume: true`, bundled by scripts/build-web.mjs as `npm run build` does)
 * against a real Rivulet, whose model is a fake OpenAI-compatible server holding its answer midway,
 * so "mid-answer" is a state the test waits for, not a moment it guesses.
 */

const TOKENS = ['Rivulet', ' keeps', ' the', ' answer', ' in', ' its', ' log', '.'];
const ANSWER = TOKENS.join('');
const HELD = TOKENS.slice(0, 3).join('');

jest.setTimeout(60_000);

describe('the AI SDK chat page (useChat with resume: true) in Chromium', () => {
  let browser: Browser;
  let fake: FakeOpenAi;
  let running: RunningApp;
  let context: BrowserContext;
  let errors: string[];

  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [
      join(__dirname, '..', 'scripts', 'build-web.mjs'),
    ]);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser.close();
  });
  beforeEach(async () => {
    fake = await new FakeOpenAi().start();
    running = await startApp({
      AI_PROVIDER: 'openai',
      AI_BASE_URL: fake.baseUrl,
      AI_MODEL: 'fake-model',
      AI_DETACH_GRACE_MS: '60000',
    });
    context = await browser.newContext();
    errors = [];
  });
  afterEach(async () => {
    await context.close();
    await running.close();
    await fake.stop();
  });

  const open = async (url = `${running.url}/ai-sdk-chat.html`) => {
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // HTTP statuses the page asked for (the overview's probes get 400s by design) are not errors.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        errors.push(`console: ${message.text()}`);
    });
    await page.goto(url);
    return page;
  };
  const pill = (page: Page, state: string) =>
    page.waitForSelector(`#status[data-state="${state}"]`, { timeout: 20_000 });
  const assistantTexts = (page: Page) =>
    page.$$eval('.turn[data-role="assistant"] .content', (nodes) =>
      nodes.map((n) => n.textContent ?? ''),
    );
  const waitForAssistant = (page: Page, text: string) =>
    page.waitForFunction(
      (expected) =>
        [...document.querySelectorAll('.turn[data-role="assistant"] .content')].some(
          (n) => n.textContent === expected,
        ),
      text,
      { timeout: 20_000 },
    );
  /** Counts the page's requests to the AI SDK endpoints. */
  const countRequests = (page: Page) => {
    const seen = { posts: 0, resumes: 0, resumed: 0, stops: 0 };
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (request.method() === 'POST' && path === '/api/ai/sdk/chat') seen.posts++;
      if (request.method() === 'GET' && /^\/api\/ai\/sdk\/chat\/[^/]+\/stream$/.test(path))
        seen.resumes++;
      if (request.method() === 'DELETE' && path.endsWith('/stream')) seen.stops++;
    });
    page.on('response', (response) => {
      const path = new URL(response.url()).pathname;
      if (
        response.request().method() === 'GET' &&
        path.endsWith('/stream') &&
        response.status() === 200 &&
        response.headers()['x-vercel-ai-ui-message-stream'] === 'v1'
      )
        seen.resumed++;
    });
    return seen;
  };
  const ask = async (page: Page, question: string) => {
    await pill(page, 'online');
    await page.fill('#prompt', question);
    await page.click('#send');
  };

  it('reloaded mid-answer, the page resumes the same answer and shows it whole, once', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 3 };
    const page = await open();
    const seen = countRequests(page);
    await ask(page, 'What survives a reload?');
    await fake.waitForHold();
    await waitForAssistant(page, HELD);
    const chatUrl = page.url();
    expect(new URL(chatUrl).searchParams.get('chat')).toMatch(/^[0-9a-f-]{36}$/);

    await page.reload();
    // The SDK asked the reconnect URL at load and got the running answer replayed from its start.
    await waitForAssistant(page, HELD);
    await pill(page, 'open');
    fake.release();
    await waitForAssistant(page, ANSWER);
    await pill(page, 'online');

    expect(await assistantTexts(page)).toEqual([ANSWER]);
    expect(
      await page.$$eval('.turn[data-role="user"] .content', (n) => n.map((x) => x.textContent)),
    ).toEqual(['What survives a reload?']);
    expect(page.url()).toBe(chatUrl);
    expect(seen.posts).toBe(1);
    expect(seen.resumed).toBe(1);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.aborted).toBe(false);

    // Reloaded once more after the end: the reconnect answers 204, the page keeps what it has.
    await page.reload();
    await pill(page, 'online');
    expect(await assistantTexts(page)).toEqual([ANSWER]);
    expect(seen.resumed).toBe(1);
    expect(seen.resumes).toBe(2);
    expect(errors).toEqual([]);
    await page.screenshot({ path: screenshotPath('ai-sdk-chat-desktop') });
  });

  it('a second tab on the same chat shows the same answer, live, to its end', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 3 };
    const first = await open();
    await ask(first, 'Two tabs?');
    await fake.waitForHold();
    await waitForAssistant(first, HELD);

    const second = await open(first.url());
    await waitForAssistant(second, HELD);
    await pill(second, 'open');
    fake.release();
    await Promise.all([waitForAssistant(first, ANSWER), waitForAssistant(second, ANSWER)]);
    await Promise.all([pill(first, 'online'), pill(second, 'online')]);
    expect(await assistantTexts(first)).toEqual([ANSWER]);
    expect(await assistantTexts(second)).toEqual([ANSWER]);
    // One answer, one model call, shown in both tabs.
    expect(fake.requests).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('Stop in one tab stops the answer in both, and aborts the model call', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 3 };
    const first = await open();
    const seen = countRequests(first);
    await ask(first, 'Stop me');
    await fake.waitForHold();
    await waitForAssistant(first, HELD);
    const second = await open(first.url());
    await waitForAssistant(second, HELD);
    await Promise.all([pill(first, 'open'), pill(second, 'open')]);

    await second.click('#stop');
    await fake.waitForAborts(1);
    await Promise.all([pill(first, 'online'), pill(second, 'online')]);
    // Both tabs keep the partial answer, once; nothing follows it.
    expect(await assistantTexts(first)).toEqual([HELD]);
    expect(await assistantTexts(second)).toEqual([HELD]);
    expect(seen.stops).toBe(0);
    expect(await first.isEnabled('#send')).toBe(true);
    expect(await second.isDisabled('#stop')).toBe(true);

    // Reloaded after the stop, there is nothing to resume: the chat shows what it had.
    await first.reload();
    await pill(first, 'online');
    expect(await assistantTexts(first)).toEqual([HELD]);
    expect(fake.requests).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('fits a phone screen without sideways scrolling', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS };
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      const page = await phone.newPage();
      const pageErrors = trackPageErrors(page);
      await page.goto(`${running.url}/ai-sdk-chat.html`);
      await ask(page, 'Small screen?');
      await waitForAssistant(page, ANSWER);
      await pill(page, 'online');
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBe(0);
      await page.screenshot({ path: screenshotPath('ai-sdk-chat-phone') });
      expect(pageErrors).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('is linked from the overview, which finds the endpoint available', async () => {
    const page = await open(`${running.url}/`);
    await page.waitForSelector('#status-ai-sdk[data-state="online"]', { timeout: 20_000 });
    await page.click('a.card[href="/ai-sdk-chat.html"]');
    await page.waitForURL(/\/ai-sdk-chat\.html\?chat=/);
    await pill(page, 'online');
    expect(errors).toEqual([]);
  });
});
