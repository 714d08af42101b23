// @ts-check
import { RivuletStream } from '../rivulet-client.js';
import { $, $as, pillStateOf, setPill } from './common.js';

const text = $('#text');
const cursor = $('#cursor');
const progress = $('#progress');
const bar = $('#progress-bar');
const status = $('#status');
const chars = $('#chars');
const percent = $('#percent');
const lastId = $('#last-id');
const form = $as('#form', HTMLFormElement);
const custom = $as('#custom', HTMLTextAreaElement);
const start = $as('#start', HTMLButtonElement);
const stop = $as('#stop', HTMLButtonElement);

/** @type {RivuletStream | null} */
let stream = null;
/** @type {string[]} */
let typed = [];
let total = 0;

/** @param {number} value 0..100 */
function showProgress(value) {
  const rounded = Math.round(value);
  progress.setAttribute('aria-valuenow', String(rounded));
  bar.style.width = `${value}%`;
  percent.textContent = `${rounded}%`;
  chars.textContent = `${typed.length} / ${total}`;
}

function run() {
  stream?.close();
  typed = [];
  total = 0;
  text.textContent = '';
  cursor.hidden = false;
  showProgress(0);
  const query = custom.value ? `?text=${encodeURIComponent(custom.value)}` : '';
  // The resume point lives in memory: a fresh page starts the text again from the first character.
  const current = new RivuletStream(`/api/stream${query}`, {
    storage: null,
    isComplete: (event) => /** @type {{type?: string}} */ (event.data)?.type === 'end',
  });
  stream = current;
  current.onStatus((change) => {
    setPill(status, pillStateOf(change));
    if (change.status === 'closed') {
      start.disabled = false;
      stop.disabled = true;
      start.textContent = 'Start again';
      if (change.reason !== 'complete') cursor.hidden = true;
    }
  });
  current.on('message', (event) => {
    const data = /** @type {{type: string, char?: string, index?: number, total?: number}} */ (event.data);
    if (event.lastEventId) lastId.textContent = event.lastEventId;
    if (data.type === 'start' && typeof data.total === 'number') {
      total = data.total;
      showProgress(0);
    } else if (data.type === 'chunk' && typeof data.index === 'number' && typeof data.char === 'string') {
      total = data.total ?? total;
      typed[data.index] = data.char;
      text.textContent = typed.join('');
      showProgress(total > 0 ? ((data.index + 1) / total) * 100 : 0);
    } else if (data.type === 'end') {
      showProgress(100);
      text.dataset.done = 'true';
    } else if (data.type === 'reset') {
      typed = [];
      text.textContent = '';
    }
  });
  delete text.dataset.done;
  start.disabled = true;
  stop.disabled = false;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  run();
});

stop.addEventListener('click', () => {
  stream?.close();
  stream = null;
});

run();
