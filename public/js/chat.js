// @ts-check
import { RivuletTopics } from '../rivulet-client.js';
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
const shareRole = $('#share-role');

/** @typedef {{type?: string, roomId?: string, user?: string, text?: string, timestamp?: string, reason?: string}} ChatData */

const params = new URLSearchParams(location.search);

/**
 * Every chat tab of this browser shares one connection (GET /api/events?topic=chat:<room>, every
 * room any tab is in): one tab holds it and hands the messages to the others. `?share=off` gives
 * this tab a connection of its own.
 */
const topics = new RivuletTopics({ share: params.get('share') !== 'off' });
/** @type {(() => void) | null} */
let unsubscribe = null;
let currentRoom = '';
const seen = new Set();

const ROLE_LABELS = { leader: 'Shared stream: this tab', follower: 'Shared stream: another tab', solo: 'Own stream' };
topics.onStatus((change) => {
  shareRole.dataset.role = change.role;
  shareRole.textContent = ROLE_LABELS[change.role];
  if (!unsubscribe) return;
  setPill(status, pillStateOf(change));
  const open = change.status === 'open';
  input.disabled = !open;
  sendButton.disabled = !open;
  if (open && document.activeElement !== input) input.focus();
  if (change.status === 'closed' && change.error) setNotice(notice, `${change.error.status}: ${change.error.message}`, 'error');
});
shareRole.dataset.role = topics.role;
shareRole.textContent = ROLE_LABELS[topics.role];
room.value = params.get('room') ?? room.value;
name.value = params.get('name') ?? localStorage.getItem('rivulet:chat:name') ?? `guest-${Math.floor(Math.random() * 900 + 100)}`;

/** @param {HTMLElement} node */
function append(node) {
  log.append(node);
  log.scrollTop = log.scrollHeight;
}

/**
 * The client hands each message over once (also across a handover between tabs), so every bubble
 * shown is one delivery: a repeat would show twice, which the tab-sharing tests would see.
 * @param {ChatData} data @param {string} id
 */
function showMessage(data, id) {
  seen.add(id);
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
  unsubscribe?.();
  currentRoom = roomId;
  seen.clear();
  log.replaceChildren();
  count.textContent = '0 messages';
  roomTitle.textContent = `# ${roomId}`;
  setNotice(notice, '');
  unsubscribe = topics.subscribe(`chat:${roomId}`, (event) => {
    const data = /** @type {ChatData} */ (event.data);
    if (!data || typeof data !== 'object') return;
    if (event.topic !== null && event.type === 'message') showMessage({ ...data, timestamp: event.timestamp }, event.id);
    // A resume point older than the room's retention: what is still kept follows.
    else if (event.topic === null && data.type === 'reset') systemLine('Some earlier messages are no longer kept; showing what is.');
  });
  setPill(status, pillStateOf({ status: topics.status }));
  const open = topics.status === 'open';
  input.disabled = !open;
  sendButton.disabled = !open;
  leave.disabled = false;
}

join.addEventListener('submit', (event) => {
  event.preventDefault();
  enter();
});

leave.addEventListener('click', () => {
  unsubscribe?.();
  unsubscribe = null;
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
    sendButton.disabled = !unsubscribe || topics.status !== 'open';
    input.focus();
  }
});

enter();
