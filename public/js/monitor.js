// @ts-check
import { RivuletStream } from '../rivulet-client.js';
import { $, $as, clock, pillStateOf, setPill } from './common.js';

const MAX_SAMPLES = 60;
const status = $('#status');
const canvas = $as('#chart', HTMLCanvasElement);
const info = $('#sample-info');
/** @param {string} name */
const tile = (name) => ({ value: $(`#${name}`), meter: $(`#${name}-meter`), detail: $(`#${name}-detail`) });
const tiles = { cpu: tile('cpu'), memory: tile('memory'), disk: tile('disk'), connections: tile('connections') };

/** @typedef {{t: number, cpu?: number, memory?: number, disk?: number}} Sample */
/** @type {Sample[]} */
const samples = [];
let peakConnections = 1;

/**
 * The server's sample (src/monitor/system-sample.ts): sizes in bytes, CPU in %.
 * @typedef {{process?: number, system?: number, loadAverage?: number[], cores?: number}} CpuSample
 * @typedef {{rss?: number, heapUsed?: number, heapTotal?: number, external?: number, systemFree?: number, systemTotal?: number}} MemorySample
 * @typedef {{path?: string, total?: number, free?: number, available?: number, used?: number}} DiskSample
 * @typedef {{total?: number, byKind?: Record<string, number>}} ConnectionsSample
 * @typedef {{cpu?: CpuSample, memory?: MemorySample, disk?: DiskSample | null, connections?: ConnectionsSample, timestamp?: string}} MonitorSample
 */

/** @param {unknown} value @returns {value is number} */
function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** @param {number | undefined} part @param {number | undefined} whole @returns {number | undefined} */
function percent(part, whole) {
  return isNumber(part) && isNumber(whole) && whole > 0 ? (part / whole) * 100 : undefined;
}

/** @param {number | undefined} bytes */
function size(bytes) {
  if (!isNumber(bytes)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/**
 * @param {keyof typeof tiles} name
 * @param {number | undefined} value
 * @param {string} text
 * @param {number} fill 0..100
 * @param {string} detail
 */
function showTile(name, value, text, fill, detail) {
  const tile = tiles[name];
  tile.value.textContent = value === undefined ? '–' : text;
  tile.meter.style.width = `${value === undefined ? 0 : Math.max(0, Math.min(100, fill))}%`;
  tile.detail.textContent = detail;
}

/** @param {MonitorSample} data @param {Sample} sample */
function showTiles(data, sample) {
  const { cpu, memory, disk, connections } = data;
  const load = cpu?.loadAverage?.filter(isNumber).map((v) => v.toFixed(2)).join(' ');
  showTile(
    'cpu',
    sample.cpu,
    `${(sample.cpu ?? 0).toFixed(1)}%`,
    sample.cpu ?? 0,
    [
      isNumber(cpu?.process) ? `process ${cpu.process.toFixed(1)}% of a core` : '',
      load ? `load ${load}` : '',
      isNumber(cpu?.cores) ? `${cpu.cores} cores` : '',
    ]
      .filter(Boolean)
      .join(' · '),
  );
  showTile(
    'memory',
    sample.memory,
    `${(sample.memory ?? 0).toFixed(1)}%`,
    sample.memory ?? 0,
    memory
      ? `${size(isNumber(memory.systemTotal) && isNumber(memory.systemFree) ? memory.systemTotal - memory.systemFree : undefined)} of ${size(memory.systemTotal)} · server RSS ${size(memory.rss)}`
      : '',
  );
  showTile(
    'disk',
    sample.disk,
    `${(sample.disk ?? 0).toFixed(1)}%`,
    sample.disk ?? 0,
    disk ? `${size(disk.available)} free of ${size(disk.total)}` : 'not available on this server',
  );
  const total = connections?.total;
  if (isNumber(total)) peakConnections = Math.max(peakConnections, total);
  const kinds = Object.entries(connections?.byKind ?? {})
    .filter(([, count]) => isNumber(count) && count > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${kind} ${count}`)
    .join(' · ');
  showTile('connections', isNumber(total) ? total : undefined, String(total), ((total ?? 0) / peakConnections) * 100, kinds);
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
  // How many samples the chart holds (tests and tools can wait on it).
  canvas.dataset.samples = String(samples.length);
}

const stream = new RivuletStream('/api/monitor', { resume: false, storage: null });
stream.onStatus((change) => setPill(status, pillStateOf(change)));
stream.on('message', (event) => {
  const data = /** @type {MonitorSample} */ (event.data);
  if (!data || typeof data !== 'object' || !('timestamp' in data)) return;
  const t = typeof data.timestamp === 'string' ? new Date(data.timestamp).getTime() : Number.NaN;
  /** @type {Sample} */
  const sample = {
    t: Number.isNaN(t) ? Date.now() : t,
    // CPU: the whole machine's use (what the chart compares with memory and disk).
    cpu: isNumber(data.cpu?.system) ? data.cpu.system : undefined,
    memory: percent(
      isNumber(data.memory?.systemTotal) && isNumber(data.memory?.systemFree)
        ? data.memory.systemTotal - data.memory.systemFree
        : undefined,
      data.memory?.systemTotal,
    ),
    disk: percent(data.disk?.used, data.disk?.total),
  };
  samples.push(sample);
  while (samples.length > MAX_SAMPLES) samples.shift();
  showTiles(data, sample);
  info.textContent = `Last sample at ${clock(sample.t)} · peak ${peakConnections} connection${peakConnections === 1 ? '' : 's'}`;
  draw();
});

new ResizeObserver(() => draw()).observe(canvas);
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', draw);
draw();
