// @ts-check
import { RivuletTopics } from '../rivulet-client.js';
import { $, pillStateOf, probePost, probeStream, setPill } from './common.js';

/** How each demo's availability is checked: stream endpoints are opened and hung up, POST ones validated. */
const PROBES = {
  typewriter: () => probeStream('/api/stream?text=ok'),
  notifications: () => probePost('/api/notifications'),
  chat: () => probeStream('/api/chat/lobby'),
  ai: () => probePost('/api/ai/chat'),
  'ai-sdk': () => probePost('/api/ai/sdk/chat'),
  monitor: () => probeStream('/api/monitor'),
};

const LINES = {
  typewriter: 'Types its text one character per event.',
  notifications: 'Accepting notifications.',
  chat: 'Room #lobby is open.',
  ai: 'Ready to answer.',
  'ai-sdk': 'useChat can send, resume and stop here.',
  monitor: 'Samples every few seconds.',
};

for (const [name, probe] of Object.entries(PROBES)) {
  const pill = $(`#status-${name}`);
  const line = $(`#live-${name}`);
  void probe().then((state) => {
    setPill(pill, state);
    line.textContent =
      state === 'online'
        ? LINES[/** @type {keyof typeof LINES} */ (name)]
        : state === 'missing'
          ? 'This server does not expose this endpoint.'
          : state === 'auth'
            ? 'Needs an access token on this server.'
            : 'Not reachable right now.';
  });
}

// The ticker is live on the card itself: topic `ticker` of the multiplexed stream, on the one
// connection every tab of this origin shares (the chat page's rooms ride on it too).
const tickerPill = $('#status-replay');
const tickerLine = $('#live-replay');
tickerLine.textContent = 'Waiting for the next ticker message…';
const topics = new RivuletTopics();
topics.onStatus((change) => setPill(tickerPill, pillStateOf(change)));
topics.subscribe('ticker', (event) => {
  const data = /** @type {{message?: string}} */ (event.data);
  if (event.topic === 'ticker' && typeof data?.message === 'string') tickerLine.textContent = `#${event.id} · ${data.message}`;
});
