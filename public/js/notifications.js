// @ts-check
import { RivuletStream } from '../rivulet-client.js';
import { $, $as, clock, errorText, h, pillStateOf, setNotice, setPill } from './common.js';

const status = $('#status');
const list = $('#notifications');
const empty = $('#empty');
const unread = $('#unread');
const inboxUser = $('#inbox-user');
const subscribe = $as('#subscribe', HTMLFormElement);
const userId = $as('#user-id', HTMLInputElement);
const token = $as('#token', HTMLInputElement);
const disconnectButton = $as('#disconnect', HTMLButtonElement);
const send = $as('#send', HTMLFormElement);
const toUser = $as('#to-user', HTMLInputElement);
const broadcast = $as('#broadcast', HTMLInputElement);
const title = $as('#title', HTMLInputElement);
const body = $as('#body', HTMLTextAreaElement);
const result = $('#send-result');
const streamNotice = $('#stream-notice');

/** @typedef {{type?: string, id?: string, title?: string, body?: string, timestamp?: string | number}} Notification */

/** @type {RivuletStream | null} */
let stream = null;
/** Ids already shown (a resume never repeats one, but a user may reconnect by hand). */
const seen = new Set();

const params = new URLSearchParams(location.search);
if (params.get('user')) userId.value = params.get('user') ?? '';

/** @param {Notification} note */
function show(note) {
  if (note.id && seen.has(note.id)) return;
  if (note.id) seen.add(note.id);
  list.prepend(
    h(
      'li',
      { 'data-id': note.id ?? '' },
      h('span', { class: 'text' }, h('strong', {}, note.title ?? '(no title)'), h('br'), note.body ?? ''),
      h('span', { class: 'time' }, clock(note.timestamp)),
    ),
  );
  empty.hidden = true;
  unread.textContent = String(seen.size);
}

function connect() {
  stream?.close();
  const user = userId.value.trim();
  if (!user) return;
  list.replaceChildren();
  seen.clear();
  unread.textContent = '0';
  empty.hidden = false;
  inboxUser.textContent = `· ${user}`;
  const query = new URLSearchParams({ userId: user });
  if (token.value.trim()) query.set('access_token', token.value.trim());
  // One saved Last-Event-ID per user: a reload shows only what arrived since, the list starts fresh.
  const current = new RivuletStream(`/api/notifications/stream?${query}`, { key: `notifications:${user}` });
  stream = current;
  current.onStatus((change) => {
    setPill(status, pillStateOf(change));
    if (change.status === 'closed' && change.error) setNotice(streamNotice, `${change.error.status}: ${change.error.message}`, 'error');
    else if (change.status === 'open') setNotice(streamNotice, '');
  });
  const handler = (/** @type {import('../rivulet-client').RivuletEvent} */ event) => {
    const data = /** @type {Notification} */ (event.data);
    if (data && typeof data === 'object' && data.type === 'notification') show(data);
  };
  current.on('notification', handler);
  current.on('message', handler);
  disconnectButton.disabled = false;
}

subscribe.addEventListener('submit', (event) => {
  event.preventDefault();
  connect();
});

disconnectButton.addEventListener('click', () => {
  stream?.close();
  stream = null;
  setPill(status, 'closed');
  disconnectButton.disabled = true;
});

broadcast.addEventListener('change', () => {
  toUser.disabled = broadcast.checked;
});

send.addEventListener('submit', async (event) => {
  event.preventDefault();
  /** @type {Record<string, unknown>} */
  const payload = { title: title.value, body: body.value };
  if (broadcast.checked) payload.broadcast = true;
  else payload.userId = toUser.value.trim();
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': 'application/json' };
  if (token.value.trim()) headers.Authorization = `Bearer ${token.value.trim()}`;
  try {
    const response = await fetch('/api/notifications', { method: 'POST', headers, body: JSON.stringify(payload) });
    if (!response.ok) {
      setNotice(result, await errorText(response), 'error');
      return;
    }
    const { id } = await response.json();
    setNotice(result, `Sent (id ${id}) to ${broadcast.checked ? 'everyone' : payload.userId}.`, 'info');
  } catch (error) {
    setNotice(result, `Could not send: ${String(error)}`, 'error');
  }
});

connect();
