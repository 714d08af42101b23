// The callbacks given to page.evaluate / waitForFunction run in Chromium: they need the DOM types.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import type { Browser, Page } from 'playwright-core';
import { RunningApp, startApp } from './support/app';
import { launchChromium, trackPageErrors } from './support/browser';
import { parseExposition } from './support/metrics';
import { startNginx, type NginxProtocol, type RunningNginx } from './support/nginx';

/**
 * Why the reference nginx serves HTTP/2: real Chromium opens 10 EventSources in one page through
 * it. Over HTTP/1.1 (TLS, no h2) the browser allows 6 connections per origin, so 6 open and the
 * other 4 wait; over HTTP/2 all 10 share one connection, open, and receive events. Chromium runs
 * with --ignore-certificate-errors for the harness's self-signed certificate.
 */
jest.setTimeout(60_000);

const SOURCES = 10;

/** EventSource.readyState values (the constants live in the browser, not in Node's test process). */
const EventSourceState = { CONNECTING: 0, OPEN: 1, CLOSED: 2 } as const;

interface ProofState {
  opened: number[];
  received: number[];
  readyStates: number[];
  protocol: string;
}

describe('10 EventSources in one Chromium page, through the reference nginx', () => {
  let browser: Browser;
  let app: RunningApp;
  let nginx: RunningNginx | undefined;
  let page: Page | undefined;
  let errors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium(['--ignore-certificate-errors']);
  });

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await page?.context().close();
    await nginx?.stop();
    await app?.close();
    expect(errors).toEqual([]);
  });

  const openStreams = async (): Promise<number> => {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    return parseExposition(text).get('rivulet_sse_open_streams{kind="topics"}') ?? 0;
  };

  /** Starts the app behind nginx, opens a page on nginx's origin and 10 EventSources in it. */
  const openTen = async (protocol: NginxProtocol): Promise<Page> => {
    app = await startApp();
    nginx = await startNginx({ upstreams: [Number(new URL(app.url).port)], protocol });
    const context = await browser.newContext();
    page = await context.newPage();
    errors = trackPageErrors(page);
    // Any same-origin document will do: the EventSources are made by the script below.
    await page.goto(`${nginx.url}/health/live`);
    await page.evaluate((count) => {
      const state: ProofState = { opened: [], received: [], readyStates: [], protocol: '' };
      const sources: EventSource[] = [];
      for (let i = 0; i < count; i++) {
        const source = new EventSource(`/api/events?topic=proof&source=${i}`);
        source.onopen = () => state.opened.push(i);
        source.onmessage = () => state.received.push(i);
        sources.push(source);
      }
      const navigation = performance.getEntriesByType(
        'navigation',
      )[0] as PerformanceNavigationTiming;
      state.protocol = navigation.nextHopProtocol;
      Object.assign(window, { proof: state, sources });
    }, SOURCES);
    return page;
  };

  const state = (p: Page) =>
    p.evaluate(() => {
      const w = window as unknown as { proof: ProofState; sources: EventSource[] };
      return { ...w.proof, readyStates: w.sources.map((s) => s.readyState) };
    });

  const publish = async () => {
    const response = await fetch(`${app.url}/api/events/proof`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { hello: 'all' } }),
    });
    expect(response.status).toBe(202);
  };

  const waitFor = (p: Page, what: 'opened' | 'received', count: number) =>
    p.waitForFunction(
      ([key, n]) =>
        new Set((window as unknown as { proof: Record<string, number[]> }).proof[key]).size >= n,
      [what, count] as const,
      { timeout: 20_000 },
    );

  it('control: over HTTP/1.1 at most 6 open; the other 4 wait while the 6 receive events', async () => {
    const p = await openTen('https');
    await waitFor(p, 'opened', 6);
    await publish();
    await waitFor(p, 'received', 6);

    const seen = await state(p);
    expect(seen.protocol).toBe('http/1.1');
    expect(new Set(seen.opened).size).toBe(6);
    expect(new Set(seen.received).size).toBe(6);
    // 0 = CONNECTING: the 4 sources beyond the browser's per-origin limit never got a connection.
    expect(seen.readyStates.filter((s) => s === EventSourceState.CONNECTING)).toHaveLength(4);
    expect(await openStreams()).toBe(6);
  });

  it('over HTTP/2 all 10 open on one connection and every one receives the event', async () => {
    const p = await openTen('h2');
    await waitFor(p, 'opened', SOURCES);
    await publish();
    await waitFor(p, 'received', SOURCES);

    const seen = await state(p);
    expect(seen.protocol).toBe('h2');
    expect(new Set(seen.opened).size).toBe(SOURCES);
    expect(new Set(seen.received).size).toBe(SOURCES);
    expect(seen.readyStates).toEqual(Array(SOURCES).fill(EventSourceState.OPEN));
    expect(await openStreams()).toBe(SOURCES);
  });
});
