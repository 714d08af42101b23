// @ts-check
import { RivuletStream } from '../rivulet-client.js';
import { $, $as, clock, errorText, h, pillStateOf, setNotice, setPill } from './common.js';

const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;
const status = $('#status');
const join = $as('#join', HTMLFormElement);
const room = $as('#room', HTMLInputElement);
const name = $as('#name', HTMLInputElement);
const leave = $as('#leave', HTMLButtonElement);
const notice = $('#notice');
const log = $('#chat-log');
const roomTitle = $('#room-title');
const count = $('#message-count');
const composer = $as('#composer', HTMLFormElement);
const input = $as('#message', HTMLInputElement);
const sendButton = $as('#send', HTMLButtonElement);

/** @typedef {{type?: string, roomId?: string, user?: string, text?: string, timestamp?: string, reason?: string}} ChatData */

/** @type {RivuletStream | null} */
let stream = null;
let currentRoom = '';
const seen = new Set();

const params = new URLSearchParams(location.search);
room.value = params.get('room') ?? room.value;
name.value = params.get('name') ?? localStorage.getItem('rivulet:chat:name') ?? `guest-${Math.floor(Math.random() * 900 + 100)}`;

/** @param {HTMLElement} node */
function append(node) {
  log.append(node);
  log.scrollTop = log.scrollHeight;
}

/** @param {ChatData} data @param {string} id */
function showMessage(data, id) {
  if (id && seen.has(id)) return;
  if (id) seen.add(id);
  const mine = data.user === name.value.trim();
  append(
    h(
      'li',
      { class: `bubble${mine ? ' mine' : ''}`, 'data-id': id },
      h('div', {}, h('span', { class: 'who' }, data.user ?? 'someone'), h('span', { class: 'when' }, clock(data.timestamp))),
      h('div', { class: 'text' }, data.text ?? ''),
    ),
  );
  count.textContent = `${seen.size} message${seen.size === 1 ? '' : 's'}`;
}

/** @param {string} text */
function systemLine(text) {
  append(h('li', { class: 'bubble system' }, text));
}

function enter() {
  const roomId = room.value.trim();
  if (!ROOM_ID.test(roomId)) {
    setNotice(notice, 'Room ids are 1 to 64 letters, digits, "_" or "-".', 'error');
    return;
  }
  if (!name.value.trim()) return;
  localStorage.setItem('rivulet:chat:name', name.value.trim());
  stream?.close();
  currentRoom = roomId;
  seen.clear();
  log.replaceChildren();
  count.textContent = '0 messages';
  roomTitle.textContent = `# ${roomId}`;
  setNotice(notice, '');
  const current = new RivuletStream(`/api/chat/${encodeURIComponent(roomId)}`, { storage: null });
  stream = current;
  current.onStatus((change) => {
    setPill(status, pillStateOf(change));
    const open = change.status === 'open';
    input.disabled = !open;
    sendButton.disabled = !open;
    if (open) input.focus();
    if (change.status === 'closed' && change.error) setNotice(notice, `${change.error.status}: ${change.error.message}`, 'error');
  });
  current.on('message', (event) => {
    const data = /** @type {ChatData} */ (event.data);
    if (!data || typeof data !== 'object') return;
    if (data.type === 'message') showMessage(data, event.lastEventId);
    // A resume point older than the room's retention: what is still kept follows.
    else if (data.type === 'reset') systemLine('Some earlier messages are no longer kept; showing what is.');
  });
  leave.disabled = false;
}

join.addEventListener('submit', (event) => {
  event.preventDefault();
  enter();
});

leave.addEventListener('click', () => {
  stream?.close();
  stream = null;
  setPill(status, 'closed');
  input.disabled = true;
  sendButton.disabled = true;
  leave.disabled = true;
  systemLine(`You left # ${currentRoom}.`);
});

composer.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text || !currentRoom) return;
  sendButton.disabled = true;
  try {
    const response = await fetch(`/api/chat/${encodeURIComponent(currentRoom)}/message`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: name.value.trim(), text }),
    });
    if (!response.ok) setNotice(notice, await errorText(response), 'error');
    else input.value = '';
  } catch (error) {
    setNotice(notice, `Could not send: ${String(error)}`, 'error');
  } finally {
    sendButton.disabled = stream?.status !== 'open';
    input.focus();
  }
});

enter();
