// @ts-check
/**
 * The frame every demo page shares: the icon, the top bar (brand and the demo nav, with the current
 * page marked) and the footer. A page's HTML holds only its title and its own content; its script
 * imports common.js, which imports this module first, so the frame is in place before the page's
 * code runs (a page whose script does not, the AI SDK's bundle, loads this module itself). A new
 * demo page is one line in PAGES.
 */

/** @type {ReadonlyArray<readonly [href: string, label: string]>} */
const PAGES = [
  ['/', 'Overview'],
  ['/typewriter.html', 'Typewriter'],
  ['/replay.html', 'Replay'],
  ['/notifications.html', 'Notifications'],
  ['/chat.html', 'Chat'],
  ['/ai.html', 'AI chat'],
  ['/ai-sdk-chat.html', 'AI SDK chat'],
  ['/monitor.html', 'Monitor'],
];

const SVG = 'http://www.w3.org/2000/svg';

/** The brand mark: two waves, drawn with DOM calls (no markup strings). */
function brandMark() {
  const mark = document.createElement('span');
  mark.className = 'brand-mark';
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG, 'path');
  const attrs = {
    d: 'M3 8c3-3 6 3 9 0s6 3 9 0M3 14c3-3 6 3 9 0s6 3 9 0',
    stroke: '#fff',
    'stroke-width': '2.4',
    'stroke-linecap': 'round',
    fill: 'none',
  };
  for (const [name, value] of Object.entries(attrs)) path.setAttribute(name, value);
  svg.append(path);
  mark.append(svg);
  return mark;
}

/**
 * @param {string} tag
 * @param {Record<string, string>} attrs
 * @param {...(Node | string)} children
 */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function renderShell() {
  const here = location.pathname === '/index.html' ? '/' : location.pathname;

  if (!document.querySelector('link[rel="icon"]')) {
    document.head.append(el('link', { rel: 'icon', href: '/favicon.svg', type: 'image/svg+xml' }));
  }

  const nav = el('nav', { class: 'nav', 'aria-label': 'Demos' });
  for (const [href, label] of PAGES) {
    nav.append(el('a', href === here ? { href, 'aria-current': 'page' } : { href }, label));
  }
  const brand = el('a', { class: 'brand', href: '/' }, brandMark(), 'Rivulet');
  const header = el(
    'header',
    { class: 'topbar' },
    el('div', { class: 'topbar-inner' }, brand, nav),
  );
  document.body.prepend(header);

  // A page with a footer of its own (the AI SDK page names its own client) keeps it.
  if (document.querySelector('body > footer')) return;
  const footer = el(
    'footer',
    { class: 'foot' },
    'Rivulet · Server-Sent Events with resume, replay and backoff. Client: ',
    el('a', { href: '/rivulet-client.js' }, '/rivulet-client.js'),
  );
  document.body.append(footer);
}

renderShell();
