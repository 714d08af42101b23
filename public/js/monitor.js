// @ts-check
import { RivuletStream } from '../rivulet-client.js';
import { $, $as, clock, pillStateOf, setPill } from './common.js';

const MAX_SAMPLES = 60;
const status = $('#status');
const canvas = $as('#chart', HTMLCanvasElement);
const info = $('#sample-info');
const tiles = {
  cpu: { value: $('#cpu'), meter: $('#cpu-meter') },
  memory: { value: $('#memory'), meter: $('#memory-meter') },
  disk: { value: $('#disk'), meter: $('#disk-meter') },
  connections: { value: $('#connections'), meter: $('#connections-meter') },
};

/** @typedef {{t: number, cpu?: number, memory?: number, disk?: number}} Sample */
/** @type {Sample[]} */
const samples = [];
let peakConnections = 1;

/**
 * A percentage from what the server sends: a number, or an object with a percent, a usage or used/total.
 * @param {unknown} value
 * @returns {number | undefined}
 */
function percentOf(value) {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value && typeof value === 'object') {
    const v = /** @type {Record<string, unknown>} */ (value);
    for (const key of ['percent', 'usage', 'usagePercent', 'used_percent', 'value']) {
      if (typeof v[key] === 'number') return /** @type {number} */ (v[key]);
    }
    if (typeof v.used === 'number' && typeof v.total === 'number' && v.total > 0) return (v.used / v.total) * 100;
  }
  return undefined;
}

/** @param {unknown} value @returns {number | undefined} */
function countOf(value) {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value && typeof value === 'object') {
    const v = /** @type {Record<string, unknown>} */ (value);
    for (const key of ['total', 'open', 'active', 'count']) if (typeof v[key] === 'number') return /** @type {number} */ (v[key]);
  }
  return undefined;
}

/** @param {keyof typeof tiles} name @param {number | undefined} value @param {string} text @param {number} fill */
function showTile(name, value, text, fill) {
  const tile = tiles[name];
  tile.value.textContent = value === undefined ? '–' : text;
  tile.meter.style.width = `${value === undefined ? 0 : Math.max(0, Math.min(100, fill))}%`;
}

/** @param {string} name */
function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0 || height === 0) return;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const pad = { left: 40, right: 10, top: 10, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const muted = cssVar('--muted');
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.lineWidth = 1;
  for (const level of [0, 25, 50, 75, 100]) {
    const y = pad.top + plotH - (level / 100) * plotH;
    ctx.strokeStyle = cssVar('--border');
    ctx.setLineDash(level === 0 ? [] : [3, 4]);
    ctx.beginPath();
    ctx.moveTo(pad.left, Math.round(y) + 0.5);
    ctx.lineTo(width - pad.right, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillStyle = muted;
    ctx.textAlign = 'right';
    ctx.fillText(`${level}%`, pad.left - 8, y);
  }
  ctx.setLineDash([]);
  const xOf = (/** @type {number} */ i) => pad.left + (MAX_SAMPLES <= 1 ? 0 : (i / (MAX_SAMPLES - 1)) * plotW);
  const yOf = (/** @type {number} */ v) => pad.top + plotH - (Math.max(0, Math.min(100, v)) / 100) * plotH;
  const offset = MAX_SAMPLES - samples.length;
  /** @type {Array<[keyof Omit<Sample, 't'>, string]>} */
  const series = [
    ['disk', cssVar('--warn')],
    ['memory', cssVar('--accent-2')],
    ['cpu', cssVar('--accent')],
  ];
  for (const [key, color] of series) {
    const points = samples
      .map((s, i) => [xOf(offset + i), s[key]])
      .filter((p) => typeof p[1] === 'number')
      .map(([x, v]) => [/** @type {number} */ (x), yOf(/** @type {number} */ (v))]);
    if (points.length === 0) continue;
    if (key === 'cpu' && points.length > 1) {
      const gradient = ctx.createLinearGradient(0, pad.top, 0, pad.top + plotH);
      gradient.addColorStop(0, `${color}55`);
      gradient.addColorStop(1, `${color}00`);
      ctx.fillStyle = gradient;
      ctx.beginPath();
      ctx.moveTo(points[0][0], pad.top + plotH);
      for (const [x, y] of points) ctx.lineTo(x, y);
      ctx.lineTo(points[points.length - 1][0], pad.top + plotH);
      ctx.closePath();
      ctx.fill();
    }
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
    ctx.stroke();
    const [lx, ly] = points[points.length - 1];
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(lx, ly, 3, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.fillStyle = muted;
  ctx.textAlign = 'left';
  ctx.fillText(samples.length ? `${samples.length} sample${samples.length === 1 ? '' : 's'}` : 'no data yet', pad.left, height - 9);
  ctx.textAlign = 'right';
  if (samples.length) ctx.fillText(clock(samples[samples.length - 1].t), width - pad.right, height - 9);
}

const stream = new RivuletStream('/api/monitor', { resume: false, storage: null });
stream.onStatus((change) => setPill(status, pillStateOf(change)));
stream.on('message', (event) => {
  const data = /** @type {Record<string, unknown>} */ (event.data);
  if (!data || typeof data !== 'object' || !('timestamp' in data)) return;
  const t = typeof data.timestamp === 'number' || typeof data.timestamp === 'string' ? new Date(data.timestamp).getTime() : Date.now();
  const sample = { t: Number.isNaN(t) ? Date.now() : t, cpu: percentOf(data.cpu), memory: percentOf(data.memory), disk: percentOf(data.disk) };
  samples.push(sample);
  while (samples.length > MAX_SAMPLES) samples.shift();
  for (const key of /** @type {const} */ (['cpu', 'memory', 'disk'])) {
    const value = sample[key];
    showTile(key, value, `${(value ?? 0).toFixed(1)}%`, value ?? 0);
  }
  const connections = countOf(data.connections);
  if (connections !== undefined) peakConnections = Math.max(peakConnections, connections);
  showTile('connections', connections, String(connections), ((connections ?? 0) / peakConnections) * 100);
  info.textContent = `Last sample at ${clock(sample.t)} · peak ${peakConnections} connection${peakConnections === 1 ? '' : 's'}`;
  draw();
});

new ResizeObserver(() => draw()).observe(canvas);
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', draw);
draw();
