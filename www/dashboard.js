/**
 * @module dashboard
 * The collector's dashboard: reads `/api/telemetry/summary` and draws, per model version ×
 * backend × variant × route (`edge`: in the browser, `cloud`: the server's `/v1/predict`), the
 * edge / cloud split of the predictions, then per group the KPIs and SVG charts (class distribution against the manifest's
 * reference, confidence histogram, latency over time), and per model version the requests,
 * errors and error rate per minute.
 *
 * Above them, the Rollout section of one model (`dashboard-rollout.js`), picked from the
 * models that have events (default mnist).
 *
 * The summary needs the collector's read key. The dashboard takes it from the URL fragment
 * (`dashboard.html#key=...`, which the browser never sends to a server), keeps it in
 * sessionStorage, sends it in the `x-burn-edge-read-key` header, and asks for it on 401.
 */

import { refreshRollout } from './dashboard-rollout.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const SVG = 'http://www.w3.org/2000/svg';
const LIVE = '#3a6ff7';
const REFERENCE = '#b8bfcc';
const ERROR = '#d64545';

/**
 * @typedef {{ p50: number | null, p95: number | null, p99?: number | null, count?: number }} Stats
 * @typedef {{ model: string, version: string, backend: string, variant: string, route: string, count: number,
 *   latencyMs: Stats, errorRate: number, fallbackRate: number, versionErrors: number, versionFallbacks: number,
 *   timeToFirstPredictionMs: Stats, classDistribution: number[], referenceDistribution: number[] | null,
 *   drift: { psi: number, level: string, jsDistance: number } | null, confidenceHistogram: number[],
 *   referenceConfidenceHistogram: number[] | null, feedback: { count: number, correct: number, accuracy: number } | null,
 *   timeline: { minute: number, count: number, p50: number, p95: number }[] }} Group
 * @typedef {{ minute: number, requests: number, errors: number, fallbacks: number, errorRate: number | null }} VersionPoint
 * @typedef {{ model: string, version: string, points: VersionPoint[] }} VersionTimeline
 */

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 */
function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Side-by-side bars: live fractions against reference fractions, one pair per category.
 * @param {number[]} live
 * @param {number[] | null} reference
 * @param {string[]} labels
 */
function pairedBars(live, reference, labels) {
  const w = 320, h = 140, pad = 16, n = Math.max(live.length, 1);
  const max = Math.max(0.01, ...live, ...(reference ?? []));
  const svg = svgEl('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  const slot = (w - pad) / n;
  live.forEach((v, i) => {
    const x = pad + i * slot;
    const bar = (/** @type {number} */ value, /** @type {number} */ dx, /** @type {string} */ fill) => {
      const bh = ((h - 28) * value) / max;
      svg.append(svgEl('rect', { x: x + dx, y: h - 16 - bh, width: slot / 2 - 2, height: bh, fill }, undefined));
    };
    if (reference) bar(reference[i] ?? 0, 0, REFERENCE);
    bar(v, slot / 2 - 1, LIVE);
    svg.append(svgEl('text', { x: x + slot / 2, y: h - 3, 'font-size': 10, 'text-anchor': 'middle', fill: '#4d5566' }, labels[i]));
  });
  return svg;
}

/**
 * Polylines over minutes, one per series, on a shared scale starting at 0.
 * @template {Record<string, unknown>} T
 * @param {T[]} points
 * @param {[keyof T, string][]} series  field and colour
 * @param {(max: number) => string} label  the top of the scale
 */
function lines(points, series, label) {
  const w = 320, h = 140, pad = 30;
  const svg = svgEl('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  if (!points.length) return svg;
  const value = (/** @type {T} */ p, /** @type {keyof T} */ k) => (typeof p[k] === 'number' ? /** @type {number} */ (p[k]) : null);
  const max = Math.max(1e-9, ...points.flatMap((p) => series.map(([k]) => value(p, k) ?? 0)));
  const x = (/** @type {number} */ i) => pad + (points.length === 1 ? (w - pad) / 2 : (i * (w - pad - 8)) / (points.length - 1));
  const y = (/** @type {number} */ v) => h - 16 - ((h - 30) * v) / max;
  for (const [key, color] of series) {
    const at = points.map((p, i) => [i, value(p, key)]).filter(([, v]) => v !== null).map(([i, v]) => [x(/** @type {number} */ (i)), y(/** @type {number} */ (v))]);
    svg.append(svgEl('polyline', { points: at.map((p) => p.join(',')).join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }));
    at.forEach(([cx, cy]) => svg.append(svgEl('circle', { cx, cy, r: 2.5, fill: color })));
  }
  svg.append(svgEl('text', { x: 2, y: 12, 'font-size': 10, fill: '#4d5566' }, label(max)));
  svg.append(svgEl('text', { x: 2, y: h - 18, 'font-size': 10, fill: '#4d5566' }, '0'));
  return svg;
}

/**
 * Requests per minute as bars, the errors among them in red.
 * @param {VersionPoint[]} points
 */
function requestBars(points) {
  const w = 320, h = 140, pad = 30;
  const svg = svgEl('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  const max = Math.max(1, ...points.map((p) => p.requests + p.errors));
  const slot = (w - pad) / Math.max(points.length, 1);
  points.forEach((p, i) => {
    const x = pad + i * slot + 1, bw = Math.max(1, slot - 2);
    const rh = ((h - 30) * p.requests) / max, eh = ((h - 30) * p.errors) / max;
    svg.append(svgEl('rect', { x, y: h - 16 - rh, width: bw, height: rh, fill: LIVE }));
    svg.append(svgEl('rect', { x, y: h - 16 - rh - eh, width: bw, height: eh, fill: ERROR }));
  });
  svg.append(svgEl('text', { x: 2, y: 12, 'font-size': 10, fill: '#4d5566' }, String(max)));
  svg.append(svgEl('text', { x: 2, y: h - 18, 'font-size': 10, fill: '#4d5566' }, '0'));
  return svg;
}

/**
 * @param {string} title
 * @param {SVGElement} svg
 * @param {string} legend
 */
function chart(title, svg, legend) {
  const box = document.createElement('div');
  box.className = 'chart';
  const h = document.createElement('h3');
  h.textContent = title;
  const l = document.createElement('div');
  l.className = 'legend';
  l.innerHTML = legend;
  // Colours through the CSSOM: the page's CSP refuses inline style attributes.
  for (const swatch of l.querySelectorAll('[data-color]')) /** @type {HTMLElement} */ (swatch).style.background = /** @type {HTMLElement} */ (swatch).dataset.color ?? '';
  box.append(h, svg, l);
  return box;
}

/**
 * The predictions by route, e.g. `predictions by route: edge 120 (80.0%) · cloud 30 (20.0%)`.
 * @param {Record<string, number>} routes
 */
function routeSplit(routes) {
  const total = Object.values(routes).reduce((a, b) => a + b, 0);
  if (total === 0) return '';
  const parts = Object.entries(routes).map(([route, n]) => `${route} ${n} (${((n / total) * 100).toFixed(1)}%)`);
  return `predictions by route: ${parts.join(' · ')}`;
}

const ms = (/** @type {number | null | undefined} */ v) => (v == null ? '–' : `${v.toFixed(2)} ms`);
const pct = (/** @type {number} */ v) => `${(v * 100).toFixed(1)}%`;

/** @param {Group} g */
/**
 * The accuracy KPI, with the age of the figure where the store computes it periodically
 * (ClickHouse: `feedbackAsOf`, ms since the epoch; SQLite keeps it current).
 * @param {Group} g @param {number | null} asOf
 */
function accuracy(g, asOf) {
  if (!g.feedback) return '–';
  const age = asOf === null ? 0 : Math.round((Date.now() - asOf) / 1000);
  return `${pct(g.feedback.accuracy)} of ${g.feedback.count}${age >= 5 ? ` (${age} s ago)` : ''}`;
}

/** @param {Group} g @param {number | null} [asOf] */
function renderGroup(g, asOf = null) {
  const section = document.createElement('section');
  section.className = 'group';
  section.dataset.group = `${g.model}@${g.version}/${g.backend}/${g.variant}`;
  section.dataset.route = g.route;
  const h = document.createElement('h2');
  h.textContent = `${g.model} ${g.version} · ${g.backend}${g.variant ? ` · ${g.variant}` : ''} · ${g.route}`;
  const kpis = document.createElement('div');
  kpis.className = 'kpis';
  const drift = g.drift
    ? `<b class="level-${g.drift.level}">${g.drift.psi.toFixed(3)} (${g.drift.level})</b>`
    : '–';
  const items = [
    ['predictions', String(g.count)],
    ['p50 / p95 / p99', `${ms(g.latencyMs.p50)} / ${ms(g.latencyMs.p95)} / ${ms(g.latencyMs.p99)}`],
    ['time to first prediction p50', ms(g.timeToFirstPredictionMs.p50)],
    ['error rate', `${pct(g.errorRate)} (${g.versionErrors})`],
    ['fallback rate', `${pct(g.fallbackRate)} (${g.versionFallbacks})`],
    ['PSI vs reference', drift],
    ['JS distance', g.drift ? g.drift.jsDistance.toFixed(3) : '–'],
    ['accuracy (feedback)', accuracy(g, asOf)],
  ];
  kpis.innerHTML = items.map(([k, v]) => `<div class="kpi" data-kpi="${k}"><span>${k}</span>${v}</div>`).join('');
  const legend = `<span class="swatch" data-color="${REFERENCE}"></span>manifest reference<span class="swatch" data-color="${LIVE}"></span>live`;
  const classLabels = g.classDistribution.map((_, i) => String(i));
  const binLabels = g.confidenceHistogram.map((_, i) => `${i / 10}`);
  const charts = document.createElement('div');
  charts.className = 'charts';
  charts.append(
    chart('predicted class', pairedBars(g.classDistribution, g.referenceDistribution, classLabels), legend),
    chart('confidence (top-1 probability)', pairedBars(g.confidenceHistogram, g.referenceConfidenceHistogram, binLabels), legend),
    chart('latency per minute', lines(g.timeline, [['p95', REFERENCE], ['p50', LIVE]], (max) => `${max.toFixed(1)} ms`),
      `<span class="swatch" data-color="${LIVE}"></span>p50<span class="swatch" data-color="${REFERENCE}"></span>p95`),
  );
  section.append(h, kpis, charts);
  return section;
}

/** @param {VersionTimeline} v */
function renderVersion(v) {
  const section = document.createElement('section');
  section.className = 'group';
  section.dataset.version = `${v.model}@${v.version}`;
  const h = document.createElement('h2');
  h.textContent = `${v.model} ${v.version} · over time`;
  const charts = document.createElement('div');
  charts.className = 'charts';
  const swatch = (/** @type {string} */ color, /** @type {string} */ text) => `<span class="swatch" data-color="${color}"></span>${text}`;
  const first = v.points[0]?.minute, last = v.points.at(-1)?.minute;
  const span = first === undefined ? '' : ` · ${new Date(first * 60000).toISOString().slice(11, 16)}–${new Date(/** @type {number} */ (last) * 60000).toISOString().slice(11, 16)} UTC`;
  charts.append(
    chart(`requests per minute${span}`, requestBars(v.points), swatch(LIVE, 'inferences') + swatch(ERROR, 'errors')),
    chart('error rate per minute', lines(v.points, [['errorRate', ERROR]], (max) => pct(max)), swatch(ERROR, 'errors / inferences')),
  );
  section.append(h, charts);
  return section;
}

const KEY_STORAGE = 'burn-edge.dashboard.readKey';
const MODEL_STORAGE = 'burn-edge.dashboard.rolloutModel';
const READ_KEY_HEADER = 'x-burn-edge-read-key';

/**
 * The read key from the URL fragment (then removed from the address bar), else the session's.
 * @returns {string | null}
 */
function takeKey() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get('key');
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
    fragment.delete('key');
    const rest = fragment.toString();
    history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
  }
  return sessionStorage.getItem(KEY_STORAGE);
}

/**
 * Shows why the summary was refused and a field to enter the key, once.
 * @param {string} message
 */
function askForKey(message) {
  let form = /** @type {HTMLFormElement | null} */ (document.getElementById('key-form'));
  if (!form) {
    form = document.createElement('form');
    form.id = 'key-form';
    form.className = 'key-form';
    const label = document.createElement('label');
    label.textContent = 'Read key ';
    const input = document.createElement('input');
    input.type = 'password';
    input.name = 'key';
    input.autocomplete = 'off';
    input.required = true;
    label.append(input);
    const button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'Show telemetry';
    form.append(label, ' ', button);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY_STORAGE, input.value.trim());
      refresh();
    });
    $('error').after(form);
  }
  form.hidden = false;
  $('error').hidden = false;
  $('error').textContent = message;
  document.body.dataset.auth = 'needed';
}

async function refresh() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) {
    askForKey('This dashboard needs the collector\'s read key (burn-edge serve --read-key; the local demo prints a dashboard link that carries it).');
    return;
  }
  try {
    const res = await fetch('/api/telemetry/summary', { cache: 'no-store', headers: { [READ_KEY_HEADER]: key } });
    if (res.status === 401) {
      askForKey('The collector refused this read key (HTTP 401). Enter the key given to burn-edge serve --read-key.');
      return;
    }
    if (!res.ok) throw new Error(`/api/telemetry/summary: HTTP ${res.status}`);
    const summary = /** @type {{ events: Record<string, number>, routes: Record<string, number>, groups: Group[], versionTimeline: VersionTimeline[], feedbackAsOf?: number | null }} */ (await res.json());
    $('totals').textContent = Object.entries(summary.events).map(([k, v]) => `${k}: ${v}`).join(' · ') || 'no events yet';
    $('routes').textContent = routeSplit(summary.routes ?? {});
    $('groups').replaceChildren(...summary.groups.map((g) => renderGroup(g, summary.feedbackAsOf ?? null)));
    $('versions').replaceChildren(...summary.versionTimeline.map(renderVersion));
    await rollout(key, summary.groups.map((g) => g.model));
    $('error').hidden = true;
    const form = document.getElementById('key-form');
    if (form) form.hidden = true;
    delete document.body.dataset.auth;
    document.body.dataset.loaded = String(summary.groups.length);
  } catch (err) {
    $('error').hidden = false;
    $('error').textContent = err instanceof Error ? err.message : String(err);
  }
}

/**
 * Refreshes the Rollout section; the picker offers `models` (those with events) and mnist.
 * @param {string} key
 * @param {string[]} models
 */
async function rollout(key, models) {
  const picker = /** @type {HTMLSelectElement} */ ($('rollout-model'));
  const chosen = sessionStorage.getItem(MODEL_STORAGE) || picker.value || 'mnist';
  const names = [...new Set(['mnist', ...models, chosen])].sort();
  if (names.join('\n') !== [...picker.options].map((o) => o.value).join('\n')) {
    picker.replaceChildren(...names.map((n) => { const o = document.createElement('option'); o.value = n; o.textContent = n; return o; }));
  }
  picker.value = chosen;
  await refreshRollout($('rollout'), chosen, key);
  $('rollout-section').dataset.model = chosen;
  document.body.dataset.rolloutLoaded = chosen;
}

$('rollout-model').addEventListener('change', (e) => {
  sessionStorage.setItem(MODEL_STORAGE, /** @type {HTMLSelectElement} */ (e.target).value);
  refresh();
});

takeKey();
refresh();
setInterval(refresh, 5000);
// A link with a new #key= opened on this page.
addEventListener('hashchange', () => { if (takeKey()) refresh(); });
