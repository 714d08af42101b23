// @ts-check
/** Small DOM helpers shared by the demo pages. Importing this module renders the page's frame. */
import './shell.js';

// On a phone the nav scrolls sideways: keep the current page's link in view.
document.querySelector('.nav [aria-current="page"]')?.scrollIntoView({ inline: 'center', block: 'nearest' });

/**
 * @param {string} selector
 * @returns {HTMLElement}
 */
export function $(selector) {
  const found = document.querySelector(selector);
  if (!(found instanceof HTMLElement)) throw new Error(`missing element ${selector}`);
  return found;
}

/**
 * @template {HTMLElement} T
 * @param {string} selector
 * @param {new () => T} type
 * @returns {T}
 */
export function $as(selector, type) {
  const found = document.querySelector(selector);
  if (!(found instanceof type)) throw new Error(`missing ${type.name} ${selector}`);
  return found;
}

/**
 * Creates an element; strings become text nodes (never HTML).
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Labels for the pill of a stream status. */
const STATUS_LABELS = {
  idle: 'Idle',
  connecting: 'Connecting',
  open: 'Live',
  reconnecting: 'Reconnecting',
  paused: 'Offline',
  closed: 'Disconnected',
  complete: 'Complete',
  error: 'Error',
  online: 'Available',
  missing: 'Not deployed',
  auth: 'Needs a token',
};

/**
 * Shows a state in a status pill (`data-state` drives the colour; tests read it too).
 * @param {HTMLElement} pill
 * @param {keyof typeof STATUS_LABELS} state
 * @param {string} [label]
 */
export function setPill(pill, state, label) {
  pill.dataset.state = state;
  pill.textContent = label ?? STATUS_LABELS[state] ?? state;
}

/**
 * Pill state for a RivuletStream status change.
 * @param {import('../rivulet-client').StatusChange} change
 * @returns {keyof typeof STATUS_LABELS}
 */
export function pillStateOf(change) {
  if (change.status === 'closed') {
    if (change.reason === 'complete') return 'complete';
    if (change.reason === 'http error') return change.error?.status === 404 ? 'missing' : 'error';
  }
  return change.status;
}

/**
 * @param {HTMLElement} box
 * @param {string} text
 * @param {'error' | 'info' | ''} [kind]
 */
export function setNotice(box, text, kind = '') {
  box.hidden = false;
  box.textContent = text;
  if (kind) box.dataset.kind = kind;
  else delete box.dataset.kind;
}

/** @param {string | number} [when] */
export function clock(when) {
  const date = when === undefined ? new Date() : new Date(when);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

/**
 * Is a stream endpoint deployed? Opens it, reads only the status, and hangs up.
 * @param {string} url
 * @returns {Promise<'online' | 'missing' | 'auth' | 'error'>}
 */
export async function probeStream(url) {
  const abort = new AbortController();
  try {
    const response = await fetch(url, { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
    return stateOfStatus(response.status, response.headers.get('Content-Type') ?? '');
  } catch {
    return 'error';
  } finally {
    abort.abort();
  }
}

/**
 * Is a POST endpoint deployed? Sends an empty JSON object: validation (400) proves the route exists.
 * @param {string} url
 * @returns {Promise<'online' | 'missing' | 'auth' | 'error'>}
 */
export async function probePost(url) {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    if (response.status === 400 || response.status === 422) return 'online';
    return stateOfStatus(response.status, '');
  } catch {
    return 'error';
  }
}

/** @param {number} status @param {string} contentType */
function stateOfStatus(status, contentType) {
  if (status === 200 && contentType.startsWith('text/event-stream')) return 'online';
  if (status === 404) return 'missing';
  if (status === 401 || status === 403) return 'auth';
  return 'error';
}

/**
 * Error text of a failed JSON request.
 * @param {Response} response
 */
export async function errorText(response) {
  try {
    const body = await response.json();
    const message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    return `${response.status} ${body.error ?? ''}: ${message ?? ''}`.trim();
  } catch {
    return `HTTP ${response.status}`;
  }
}

/**
 * @param {string} key
 * @returns {unknown}
 */
export function loadJson(key) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? undefined : JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/**
 * @param {string} key
 * @param {unknown} value undefined removes the key
 */
export function saveJson(key, value) {
  try {
    if (value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage disabled or full: the page keeps working without persistence.
  }
}
