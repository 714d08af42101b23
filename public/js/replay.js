// @ts-check
import { RivuletStream } from '../rivulet-client.js';
import { $, $as, clock, h, pillStateOf, setNotice, setPill } from './common.js';

const KEY = 'replay';
const status = $('#status');
const feed = $('#feed');
const empty = $('#feed-empty');
const notice = $('#notice');
const counts = { messages: $('#count-messages'), catchUp: $('#count-catchup'), reconnects: $('#count-reconnects') };
const connectedFor = $('#connected-for');
const connectedAt = $('#connected-at');
const lastId = $('#last-id');
const buttons = {
  connect: $as('#connect', HTMLButtonElement),
  disconnect: $as('#disconnect', HTMLButtonElement),
  reconnect: $as('#reconnect', HTMLButtonElement),
  clear: $as('#clear', HTMLButtonElement),
};

/** @typedef {{type: string, id?: string, message?: string, timestamp?: string, count?: number, syncCount?: number, reason?: string}} ReplayData */

/** @type {RivuletStream | null} */
let stream = null;
let messages = 0;
let reconnects = 0;
let opens = 0;
/** @type {number | null} */
let openedAt = null;
const FEED_LIMIT = 200;

function tick() {
  if (openedAt === null) {
    connectedFor.textContent = '–';
    return;
  }
  const seconds = Math.floor((Date.now() - openedAt) / 1000);
  connectedFor.textContent = seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
}
setInterval(tick, 1000);

/** @param {HTMLElement} item */
function append(item) {
  feed.append(item);
  while (feed.children.length > FEED_LIMIT) feed.firstElementChild?.remove();
  empty.hidden = feed.children.length > 0;
  feed.scrollTop = feed.scrollHeight;
}

/** @param {string} text */
function system(text) {
  append(h('li', { 'data-kind': 'system' }, h('span', { class: 'text' }, text), h('span', { class: 'time' }, clock())));
}

/** @param {ReplayData} data @param {boolean} catchUp */
function message(data, catchUp) {
  messages++;
  counts.messages.textContent = String(messages);
  append(
    h(
      'li',
      { 'data-id': data.id ?? '', 'data-kind': catchUp ? 'catch-up' : 'live' },
      h('span', { class: 'id' }, `#${data.id ?? ''}`),
      h('span', { class: 'text' }, data.message ?? '', catchUp ? ' ' : '', catchUp ? h('span', { class: 'tag' }, 'catch-up') : null),
      h('span', { class: 'time' }, clock(data.timestamp)),
    ),
  );
}

function connect() {
  if (stream) return;
  const current = new RivuletStream('/events', { key: KEY, backoff: { initialMs: 250, maxMs: 5000 } });
  stream = current;
  current.onStatus((change) => {
    setPill(status, pillStateOf(change));
    if (change.status === 'open') {
      opens++;
      if (opens > 1) reconnects++;
      counts.reconnects.textContent = String(reconnects);
      openedAt = Date.now();
      connectedAt.textContent = clock();
      tick();
    } else {
      openedAt = null;
      tick();
    }
    if (change.status === 'reconnecting' && change.delayMs !== undefined) {
      setNotice(notice, `Connection lost; retrying in ${(change.delayMs / 1000).toFixed(1)}s (attempt ${change.attempt}).`);
    }
    if (change.status === 'closed' && change.error) setNotice(notice, change.error.message, 'error');
    syncButtons();
  });
  current.on('message', (event) => {
    const data = /** @type {ReplayData} */ (event.data);
    lastId.textContent = current.lastEventId || '–';
    switch (data.type) {
      case 'connected':
        system(data.message ?? 'Connected');
        setNotice(notice, data.message ?? '', 'info');
        break;
      case 'catch_up_start':
        counts.catchUp.textContent = '0';
        system(data.message ?? `Catching up on ${data.count} message(s)`);
        break;
      case 'catch_up_message':
        message(data, true);
        break;
      case 'catch_up_end':
        counts.catchUp.textContent = String(data.syncCount ?? 0);
        system(data.message ?? 'Caught up');
        setNotice(notice, `Caught up: ${data.syncCount ?? 0} missed message(s) replayed.`, 'info');
        break;
      case 'reset':
        system(
          data.reason === 'history_truncated'
            ? 'Some messages are no longer on the server (older than it keeps, or from before it restarted); replaying what it has.'
            : 'The server does not know our last id (new server or history reset); continuing live.',
        );
        break;
      case 'message':
        message(data, false);
        break;
      default:
        break;
    }
  });
  syncButtons();
}

function disconnect() {
  stream?.close();
  stream = null;
  setPill(status, 'closed');
  openedAt = null;
  tick();
  system('Disconnected by you. Messages published now will be replayed on connect.');
  syncButtons();
}

function syncButtons() {
  buttons.connect.disabled = stream !== null;
  buttons.disconnect.disabled = stream === null;
  buttons.reconnect.disabled = stream === null;
}

buttons.connect.addEventListener('click', connect);
buttons.disconnect.addEventListener('click', disconnect);
buttons.reconnect.addEventListener('click', () => stream?.reconnect());
buttons.clear.addEventListener('click', () => {
  feed.replaceChildren();
  empty.hidden = false;
  messages = 0;
  counts.messages.textContent = '0';
  counts.catchUp.textContent = '0';
  if (stream) stream.clearResumePoint();
  else new RivuletStream('/events', { key: KEY, autoConnect: false }).clearResumePoint();
  lastId.textContent = '–';
  setNotice(notice, 'Cleared the list and the saved Last-Event-ID.');
});

const saved = new RivuletStream('/events', { key: KEY, autoConnect: false }).lastEventId;
lastId.textContent = saved || '–';
connect();
