// The callbacks given to page.evaluate / waitForFunction run in Chromium: they need the DOM types.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { TickerService } from '../src/replay/ticker.service';
import { DEFAULT_TYPEWRITER_TEXT } from '../src/typewriter/dto/typewriter-query.dto';
import { RunningApp, startApp } from './support/app';
import { launchChromium, screenshotPath, trackPageErrors } from './support/browser';

/**
 * The demo pages and public/rivulet-client.js in real Chromium against the real app: what a user of
 * the pages sees (typing, catch-up counts, recovery after a server restart) and how the client
 * reacts to what EventSource cannot handle (204, HTTP errors, 503 with Retry-After, offline).
 */
// Real browser work (launch, page loads, a server restart) takes seconds, not milliseconds.
jest.setTimeout(60_000);

describe('demo pages in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  const apps: RunningApp[] = [];

  /**
   * Ids start from the clock (a restarted server must not hand out the ids of the last run), so
   * the n-th ticker message of the latest server started has id `base + n`: `base` is the id of
   * one event it wrote first, on another topic.
   */
  let base = 0n;
  const id = (n: number, from = base) => String(from + BigInt(n));
  const start = async (env: Record<string, string> = {}) => {
    const running = await startApp(env);
    apps.push(running);
    const first = await running.app
      .get<EventLog>(EVENT_LOG)
      .append({ topic: 'before-the-test', type: 'message', data: null });
    base = BigInt(first.id);
    return running;
  };

  /** The ids of the ticker messages listed on the replay page, in order. */
  const feedIds = () =>
    page.$$eval('#feed li[data-id]', (items) => items.map((li) => li.getAttribute('data-id')));
  const pillState = (selector = '#status') =>
    page.$eval(selector, (el) => el.getAttribute('data-state'));
  const waitForPill = (state: string, selector = '#status') =>
    page.waitForFunction(
      ([sel, expected]) => document.querySelector(sel!)?.getAttribute('data-state') === expected,
      [selector, state],
    );
  const waitForText = (selector: string, text: string) =>
    page.waitForFunction(
      ([sel, expected]) => document.querySelector(sel!)?.textContent === expected,
      [selector, text],
    );
  const waitForFeedIds = (ids: string[]) =>
    page.waitForFunction(
      (expected) =>
        JSON.stringify(
          [...document.querySelectorAll('#feed li[data-id]')].map((li) =>
            li.getAttribute('data-id'),
          ),
        ) === JSON.stringify(expected),
      ids,
    );

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    errors = trackPageErrors(page);
  });

  afterEach(async () => {
    await context.close();
    for (const running of apps.splice(0)) await running.close();
  });

  it('serves the pages from public/ with / as the overview, a CSP and the client as a JavaScript module', async () => {
    const running = await start();
    const index = await fetch(`${running.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await index.text()).toContain('<title>Overview · Rivulet</title>');
    const client = await fetch(`${running.url}/rivulet-client.js`);
    expect(client.headers.get('content-type')).toMatch(/javascript/);
    expect(await client.text()).toContain('export class RivuletStream');
    // Static files never shadow the API, and a missing file is the contract's JSON 404.
    const missing = await fetch(`${running.url}/nope.html`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ statusCode: 404 });
  });

  it('typewriter: the text appears progressively, then completely, with the progress bar at 100%', async () => {
    const running = await start({ TYPEWRITER_INTERVAL_MS: '15' });
    await page.goto(`${running.url}/typewriter.html`);
    const partial = (await (
      await page.waitForFunction(() => {
        const text = document.querySelector('#text')?.textContent ?? '';
        const progress = Number(document.querySelector('#progress')?.getAttribute('aria-valuenow'));
        return text.length >= 3 && progress > 0 && progress < 100 ? { text, progress } : false;
      })
    ).jsonValue()) as { text: string; progress: number };
    expect(partial.text.length).toBeLessThan(DEFAULT_TYPEWRITER_TEXT.length);
    expect(DEFAULT_TYPEWRITER_TEXT.startsWith(partial.text)).toBe(true);

    await page.waitForSelector('#text[data-done="true"]');
    expect(await page.textContent('#text')).toBe(DEFAULT_TYPEWRITER_TEXT);
    expect(await page.getAttribute('#progress', 'aria-valuenow')).toBe('100');
    expect(await page.textContent('#percent')).toBe('100%');
    // Complete: the client closed the stream instead of reconnecting.
    await waitForPill('complete');
    expect(errors).toEqual([]);
  });

  it('replay: after a disconnect the page shows exactly the missed messages as catch-up, with no gap', async () => {
    const running = await start();
    const ticker = running.app.get(TickerService);
    const streamUrls: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/events') streamUrls.push(request.url());
    });
    await page.goto(`${running.url}/replay.html`);
    await waitForPill('open');
    await ticker.publish();
    await ticker.publish();
    await waitForFeedIds([id(1), id(2)]);

    await page.click('#disconnect');
    expect(await pillState()).toBe('closed');
    for (let i = 0; i < 3; i++) await ticker.publish();
    await page.click('#connect');
    await waitForText('#count-catchup', '3');
    await waitForFeedIds([id(1), id(2), id(3), id(4), id(5)]);
    const kinds = await page.$$eval('#feed li[data-id]', (items) =>
      items.map((li) => li.getAttribute('data-kind')),
    );
    expect(kinds).toEqual(['live', 'live', 'catch-up', 'catch-up', 'catch-up']);
    expect(await page.textContent('#last-id')).toBe(id(5));
    expect(streamUrls.some((url) => url.endsWith(`/events?lastEventId=${id(2)}`))).toBe(true);

    await ticker.publish();
    await waitForFeedIds([id(1), id(2), id(3), id(4), id(5), id(6)]);
    expect(await page.textContent('#count-messages')).toBe('6');

    // A reload resumes from the Last-Event-ID kept in localStorage: nothing missed, nothing repeated.
    await page.reload();
    await waitForText('#last-id', id(6));
    await page.waitForFunction(() =>
      document.querySelector('#notice')?.textContent?.startsWith('Caught up: 0'),
    );
    await ticker.publish();
    await waitForFeedIds([id(7)]);
    expect(errors).toEqual([]);
  });

  it('replay: offline pauses the stream and online resumes it with the messages published meanwhile', async () => {
    const running = await start();
    const ticker = running.app.get(TickerService);
    await page.goto(`${running.url}/replay.html`);
    await waitForPill('open');
    await ticker.publish();
    await waitForFeedIds([id(1)]);
    await context.setOffline(true);
    await waitForPill('paused');
    await ticker.publish();
    await ticker.publish();
    await context.setOffline(false);
    await waitForText('#count-catchup', '2');
    await waitForFeedIds([id(1), id(2), id(3)]);
    expect(await pillState()).toBe('open');
    expect(errors).toEqual([]);
  });

  it('replay: the page recovers from a server restart on the same port and shows new events', async () => {
    const first = await start();
    const port = new URL(first.url).port;
    await page.goto(`${first.url}/replay.html`);
    await waitForPill('open');
    await first.app.get(TickerService).publish();
    await first.app.get(TickerService).publish();
    await waitForFeedIds([id(1), id(2)]);
    const firstBase = base;

    await first.close();
    apps.splice(apps.indexOf(first), 1);
    await waitForPill('reconnecting');

    const second = await start({ PORT: port });
    await waitForPill('open');
    await waitForText('#count-reconnects', '1');
    // The new server's log is empty and its ids start above the old ones: it knows id 2 is from
    // before its start, says so (reset), and the page continues with the new server's events.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#feed li[data-kind="system"]')].some((li) =>
        li.textContent?.includes('Reconnected to replay stream'),
      ),
    );
    await second.app.get(TickerService).publish();
    await page.waitForFunction(
      () =>
        document
          .querySelector('#feed li[data-id]:last-of-type')
          ?.textContent?.includes('Server message #1') ?? false,
    );
    expect(await feedIds()).toEqual([id(1, firstBase), id(2, firstBase), id(1)]);
    expect(BigInt(id(1)) > BigInt(id(2, firstBase))).toBe(true);
    expect(await pillState()).toBe('open');
    expect(errors).toEqual([]);
  });

  describe('RivuletStream where EventSource gives up', () => {
    /**
     * Runs in the page: opens a stream with the real client and records its status changes. Given as
     * source text because the test file is compiled to CommonJS, which would turn import() into require().
     */
    const openStream = (url: string) =>
      page.evaluate(`(async () => {
        const { RivuletStream } = await import('/rivulet-client.js');
        const changes = [];
        const stream = new RivuletStream(${JSON.stringify(url)}, { storage: null, backoff: { initialMs: 50, maxMs: 200 } });
        stream.onStatus((c) => changes.push({ status: c.status, reason: c.reason, httpStatus: c.error?.status, delayMs: c.delayMs }));
        window.rivulet = { stream, changes };
      })()`);
    const changes = () =>
      page.evaluate(
        () =>
          (
            window as unknown as {
              rivulet: { changes: Array<{ status: string; reason?: string; httpStatus?: number }> };
            }
          ).rivulet.changes,
      );
    const waitForStatus = (status: string) =>
      page.waitForFunction(
        (expected) =>
          (window as unknown as { rivulet: { stream: { status: string } } }).rivulet.stream
            .status === expected,
        status,
      );

    it('stays closed when the server answers 204 (stream complete) and never reconnects', async () => {
      const running = await start({ TYPEWRITER_INTERVAL_MS: '1' });
      const requests: string[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/api/stream') requests.push(request.url());
      });
      await page.goto(`${running.url}/styles.css`);
      await openStream('/api/stream?text=abc');
      await waitForStatus('closed');
      expect((await changes()).at(-1)).toMatchObject({ status: 'closed', reason: 'complete' });
      // The first stream, EventSource's own reconnect with Last-Event-ID (answered 204), the client's check.
      expect(requests).toHaveLength(3);
      expect(requests[2]).toContain('lastEventId=2');
    });

    it('closes with the error and does not retry on a 400', async () => {
      const running = await start();
      await page.goto(`${running.url}/styles.css`);
      await openStream('/events?lastEventId=not-a-number');
      await waitForStatus('closed');
      expect((await changes()).at(-1)).toMatchObject({
        status: 'closed',
        reason: 'http error',
        httpStatus: 400,
      });
    });

    it('backs off on a 503 (MAX_CONNECTIONS), honouring Retry-After, and opens once a slot is free', async () => {
      const running = await start({ MAX_CONNECTIONS: '1', SSE_RETRY_MS: '50' });
      await page.goto(`${running.url}/styles.css`);
      const holder = await browser.newContext();
      try {
        const other = await holder.newPage();
        await other.goto(`${running.url}/styles.css`);
        // Hold the only slot from another page.
        await other.evaluate(
          (url) =>
            new Promise<void>((resolve) => {
              const source = new EventSource(url);
              Object.assign(window, { holder: source });
              source.onopen = () => resolve();
            }),
          `${running.url}/events`,
        );
        await openStream('/events');
        await page.waitForFunction(() =>
          (
            window as unknown as { rivulet: { changes: Array<{ reason?: string }> } }
          ).rivulet.changes.some((c) => c.reason === 'backoff'),
        );
        const backoff = (await changes()).find((c) => c.reason === 'backoff') as {
          delayMs?: number;
        };
        // Retry-After is 1 s (ceil(50 ms) + 1): the client never retries sooner.
        expect(backoff.delayMs).toBeGreaterThanOrEqual(1000);
        await other.evaluate(() => (window as unknown as { holder: EventSource }).holder.close());
        await waitForStatus('open');
      } finally {
        await holder.close();
      }
    });
  });

  describe('screenshots (desktop and phone)', () => {
    const PAGES = ['index', 'typewriter', 'replay', 'notifications', 'chat', 'ai', 'monitor'];
    const VIEWPORTS = [
      { name: 'desktop', width: 1280, height: 800, scheme: 'light' as const },
      { name: 'desktop-dark', width: 1280, height: 800, scheme: 'dark' as const },
      { name: 'phone', width: 390, height: 844, scheme: 'light' as const },
    ];

    it.each(VIEWPORTS)(
      'captures every page at $name size without overflow or script errors',
      async (viewport) => {
        const running = await start({ TYPEWRITER_INTERVAL_MS: '1' });
        const ticker = running.app.get(TickerService);
        const shots = await browser.newContext({
          viewport: { width: viewport.width, height: viewport.height },
          colorScheme: viewport.scheme,
          isMobile: viewport.name === 'phone',
          hasTouch: viewport.name === 'phone',
        });
        try {
          const shotPage = await shots.newPage();
          const shotErrors = trackPageErrors(shotPage);
          for (const name of PAGES) {
            await shotPage.goto(`${running.url}/${name}.html`);
            // Settled: the overview's checks are done, every other page's stream is past connecting.
            await shotPage.waitForFunction(() =>
              [...document.querySelectorAll('.pill')].every(
                (pill) => !['connecting', 'idle', null].includes(pill.getAttribute('data-state')),
              ),
            );
            if (name === 'typewriter') await shotPage.waitForSelector('#text[data-done="true"]');
            if (name === 'replay') {
              for (let i = 0; i < 4; i++) await ticker.publish();
              await shotPage.waitForSelector(`#feed li[data-id="${id(4)}"]`);
            }
            const overflow = await shotPage.evaluate(
              () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
            );
            expect({ name, overflow }).toEqual({ name, overflow: 0 });
            await shotPage.screenshot({
              path: screenshotPath(`${name}-${viewport.name}`),
              fullPage: true,
            });
          }
          expect(shotErrors).toEqual([]);
        } finally {
          await shots.close();
        }
      },
    );
  });
});
