// @ts-check
import { backoffDelay, fetchEventStream, RivuletHttpError } from '../rivulet-client.js';
import { $, $as, errorText, h, loadJson, probePost, saveJson, setPill } from './common.js';

const HISTORY_KEY = 'rivulet:ai:history';
/** The answer in flight: its generation, resume point and text so far, so a reload resumes it. */
const PENDING_KEY = 'rivulet:ai:pending';
const MAX_RESUMES = 30;

const status = $('#status');
const conversation = $('#conversation');
const empty = $('#empty');
const composer = $as('#composer', HTMLFormElement);
const prompt = $as('#prompt', HTMLTextAreaElement);
const sendButton = $as('#send', HTMLButtonElement);
const stopButton = $as('#stop', HTMLButtonElement);
const clearButton = $as('#clear', HTMLButtonElement);
const generationLabel = $('#generation');
const lastIdLabel = $('#last-id');

/** @typedef {{role: 'user' | 'assistant', content: string, error?: boolean}} Turn */
/** @typedef {{generationId: string | null, lastEventId: string, content: string}} Pending */
/** @typedef {{type?: string, generationId?: string, content?: string, message?: string, reason?: string}} AiData */

const storedHistory = loadJson(HISTORY_KEY);
/** @type {Turn[]} */
const history = Array.isArray(storedHistory) ? storedHistory : [];
const storedPending = loadJson(PENDING_KEY);
/** @type {Pending | undefined} */
let pending = storedPending && typeof storedPending === 'object' ? /** @type {Pending} */ (storedPending) : undefined;
/** @type {AbortController | null} */
let abort = null;
/** The last answer's generation and Last-Event-ID, still shown once it is over. */
let shown = { generationId: '', lastEventId: '' };

function render() {
  conversation.replaceChildren();
  for (const turn of history) conversation.append(turnNode(turn));
  if (pending) {
    const node = turnNode({ role: 'assistant', content: pending.content });
    node.id = 'live-answer';
    node.dataset.state = 'streaming';
    node.querySelector('.content')?.append(h('span', { class: 'cursor' }));
    conversation.append(node);
  }
  empty.hidden = history.length > 0 || pending !== undefined;
  if (history.length === 0 && !pending) conversation.append(empty);
  conversation.scrollTop = conversation.scrollHeight;
  generationLabel.textContent = (pending ? pending.generationId : shown.generationId) || '–';
  lastIdLabel.textContent = (pending ? pending.lastEventId : shown.lastEventId) || '–';
  const busy = pending !== undefined;
  sendButton.disabled = busy;
  stopButton.disabled = !busy;
}

/** @param {Turn} turn */
function turnNode(turn) {
  return h(
    'div',
    { class: `turn ${turn.error ? 'error' : turn.role}` },
    h('span', { class: 'role' }, turn.role === 'user' ? 'You' : 'Assistant'),
    h('div', { class: 'content' }, turn.content),
  );
}

/** Updates only the streaming bubble (cheap per chunk). */
function renderLive() {
  const live = document.getElementById('live-answer');
  const content = live?.querySelector('.content');
  if (!content || !pending) {
    render();
    return;
  }
  content.firstChild?.remove();
  content.prepend(document.createTextNode(pending.content));
  lastIdLabel.textContent = pending.lastEventId || '–';
  generationLabel.textContent = pending.generationId ?? '–';
  conversation.scrollTop = conversation.scrollHeight;
}

function persist() {
  saveJson(HISTORY_KEY, history);
  saveJson(PENDING_KEY, pending);
}

/** @param {string} [note] */
function finish(note) {
  if (!pending) return;
  shown = { generationId: pending.generationId ?? '', lastEventId: pending.lastEventId };
  history.push({ role: 'assistant', content: pending.content + (note ? `\n\n${note}` : '') });
  pending = undefined;
  persist();
  render();
  setPill(status, 'complete');
}

/** @param {string} message */
function fail(message) {
  if (pending) shown = { generationId: pending.generationId ?? '', lastEventId: pending.lastEventId };
  if (pending?.content) history.push({ role: 'assistant', content: pending.content });
  history.push({ role: 'assistant', content: message, error: true });
  pending = undefined;
  persist();
  render();
  setPill(status, 'error');
}

/** @param {import('../rivulet-client').RivuletEvent} event */
function onEvent(event) {
  if (!pending) return;
  const data = /** @type {AiData} */ (event.data);
  if (event.lastEventId) pending.lastEventId = event.lastEventId;
  if (!data || typeof data !== 'object') return;
  switch (data.type) {
    case 'start':
      if (data.generationId) pending.generationId = data.generationId;
      setPill(status, 'open', 'Answering');
      break;
    case 'chunk':
      pending.content += data.content ?? '';
      break;
    case 'reset':
      // The server replays what it still has from the start of the answer.
      pending.content = '';
      break;
    case 'done':
      finish();
      return;
    case 'error':
      fail(data.message ?? 'The answer failed');
      return;
    default:
      break;
  }
  saveJson(PENDING_KEY, pending);
  renderLive();
}

/** @param {number} ms @param {AbortSignal} signal */
function wait(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/**
 * Streams the answer: the first request (POST, or a resume after a reload), then, while the answer
 * is not done, resumes of the same generation with its Last-Event-ID, after a backoff.
 * @param {(signal: AbortSignal) => Promise<import('../rivulet-client').FetchStreamResult>} first
 */
async function stream(first) {
  const controller = new AbortController();
  abort = controller;
  let request = first;
  for (let attempt = 0; attempt < MAX_RESUMES && pending; attempt++) {
    try {
      const result = await request(controller.signal);
      if (!pending || controller.signal.aborted) return;
      if (result.status === 204) {
        finish();
        return;
      }
      if (result.events > 0) attempt = 0;
    } catch (error) {
      if (controller.signal.aborted || !pending) return;
      if (error instanceof RivuletHttpError && !error.retryable) {
        fail(error.status === 404 ? 'This answer is no longer available on the server.' : error.message);
        return;
      }
    }
    const generationId = pending.generationId;
    if (!generationId) {
      fail('The connection dropped before the answer started. Please ask again.');
      return;
    }
    setPill(status, 'reconnecting', 'Resuming');
    await wait(backoffDelay(attempt, { initialMs: 300, maxMs: 5000 }), controller.signal);
    if (controller.signal.aborted) return;
    request = (signal) =>
      fetchEventStream(`/api/ai/chat/${encodeURIComponent(generationId)}`, {
        lastEventId: pending?.lastEventId || undefined,
        signal,
        onEvent,
      });
  }
  if (pending) fail('Gave up resuming the answer after several attempts.');
}

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = prompt.value.trim();
  if (!text || pending) return;
  history.push({ role: 'user', content: text });
  pending = { generationId: null, lastEventId: '', content: '' };
  persist();
  prompt.value = '';
  render();
  setPill(status, 'connecting');
  const messages = history.filter((turn) => !turn.error).map(({ role, content }) => ({ role, content }));
  void stream((signal) => fetchEventStream('/api/ai/chat', { body: { messages }, signal, onEvent }));
});

prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

stopButton.addEventListener('click', async () => {
  const generationId = pending?.generationId;
  abort?.abort();
  finish('(stopped)');
  if (!generationId) return;
  const response = await fetch(`/api/ai/chat/${encodeURIComponent(generationId)}`, { method: 'DELETE' });
  if (!response.ok && response.status !== 404) console.warn(await errorText(response));
});

clearButton.addEventListener('click', () => {
  abort?.abort();
  history.length = 0;
  pending = undefined;
  shown = { generationId: '', lastEventId: '' };
  persist();
  render();
  setPill(status, 'idle');
});

render();
if (pending) {
  const { generationId, lastEventId } = pending;
  if (generationId) {
    setPill(status, 'reconnecting', 'Resuming');
    void stream((signal) =>
      fetchEventStream(`/api/ai/chat/${encodeURIComponent(generationId)}`, {
        lastEventId: lastEventId || undefined,
        signal,
        onEvent,
      }),
    );
  } else {
    fail('The page was closed before the answer started. Please ask again.');
  }
} else {
  void probePost('/api/ai/chat').then((state) => {
    if (!pending) setPill(status, state, state === 'online' ? 'Ready' : undefined);
  });
}
