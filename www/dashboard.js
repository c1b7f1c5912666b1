/**
 * @module dashboard
 * The collector's dashboard: reads `/api/telemetry/summary` and draws, per model version ×
 * backend × variant, the KPIs and SVG charts (class distribution against the manifest's
 * reference, confidence histogram, latency over time).
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const SVG = 'http://www.w3.org/2000/svg';
const LIVE = '#3a6ff7';
const REFERENCE = '#b8bfcc';

/**
 * @typedef {{ p50: number | null, p95: number | null, p99?: number | null, count?: number }} Stats
 * @typedef {{ model: string, version: string, backend: string, variant: string, count: number,
 *   latencyMs: Stats, errorRate: number, fallbackRate: number, versionErrors: number, versionFallbacks: number,
 *   timeToFirstPredictionMs: Stats, classDistribution: number[], referenceDistribution: number[] | null,
 *   drift: { psi: number, level: string, jsDistance: number } | null, confidenceHistogram: number[],
 *   referenceConfidenceHistogram: number[] | null, feedback: { count: number, correct: number, accuracy: number } | null,
 *   timeline: { minute: number, count: number, p50: number, p95: number }[] }} Group
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
 * Latency p50 and p95 per minute as two polylines.
 * @param {Group['timeline']} timeline
 */
function latencyLines(timeline) {
  const w = 320, h = 140, pad = 30;
  const svg = svgEl('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  if (!timeline.length) return svg;
  const max = Math.max(...timeline.map((t) => t.p95));
  const x = (/** @type {number} */ i) => pad + (timeline.length === 1 ? (w - pad) / 2 : (i * (w - pad - 8)) / (timeline.length - 1));
  const y = (/** @type {number} */ v) => h - 16 - ((h - 30) * v) / max;
  for (const [key, color] of /** @type {const} */ ([['p95', REFERENCE], ['p50', LIVE]])) {
    const points = timeline.map((t, i) => `${x(i)},${y(t[key])}`).join(' ');
    svg.append(svgEl('polyline', { points, fill: 'none', stroke: color, 'stroke-width': 2 }));
    timeline.forEach((t, i) => svg.append(svgEl('circle', { cx: x(i), cy: y(t[key]), r: 2.5, fill: color })));
  }
  svg.append(svgEl('text', { x: 2, y: 12, 'font-size': 10, fill: '#4d5566' }, `${max.toFixed(1)} ms`));
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
  box.append(h, svg, l);
  return box;
}

const ms = (/** @type {number | null | undefined} */ v) => (v == null ? '–' : `${v.toFixed(2)} ms`);
const pct = (/** @type {number} */ v) => `${(v * 100).toFixed(1)}%`;

/** @param {Group} g */
function renderGroup(g) {
  const section = document.createElement('section');
  section.className = 'group';
  section.dataset.group = `${g.model}@${g.version}/${g.backend}/${g.variant}`;
  const h = document.createElement('h2');
  h.textContent = `${g.model} ${g.version} · ${g.backend}${g.variant ? ` · ${g.variant}` : ''}`;
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
    ['accuracy (feedback)', g.feedback ? `${pct(g.feedback.accuracy)} of ${g.feedback.count}` : '–'],
  ];
  kpis.innerHTML = items.map(([k, v]) => `<div class="kpi" data-kpi="${k}"><span>${k}</span>${v}</div>`).join('');
  const legend = `<span class="swatch" style="background:${REFERENCE}"></span>manifest reference<span class="swatch" style="background:${LIVE}"></span>live`;
  const classLabels = g.classDistribution.map((_, i) => String(i));
  const binLabels = g.confidenceHistogram.map((_, i) => `${i / 10}`);
  const charts = document.createElement('div');
  charts.className = 'charts';
  charts.append(
    chart('predicted class', pairedBars(g.classDistribution, g.referenceDistribution, classLabels), legend),
    chart('confidence (top-1 probability)', pairedBars(g.confidenceHistogram, g.referenceConfidenceHistogram, binLabels), legend),
    chart('latency per minute', latencyLines(g.timeline),
      `<span class="swatch" style="background:${LIVE}"></span>p50<span class="swatch" style="background:${REFERENCE}"></span>p95`),
  );
  section.append(h, kpis, charts);
  return section;
}

async function refresh() {
  try {
    const res = await fetch('/api/telemetry/summary', { cache: 'no-store' });
    if (!res.ok) throw new Error(`/api/telemetry/summary: HTTP ${res.status}`);
    const summary = /** @type {{ events: Record<string, number>, groups: Group[] }} */ (await res.json());
    $('totals').textContent = Object.entries(summary.events).map(([k, v]) => `${k}: ${v}`).join(' · ') || 'no events yet';
    $('groups').replaceChildren(...summary.groups.map(renderGroup));
    $('error').hidden = true;
    document.body.dataset.loaded = String(summary.groups.length);
  } catch (err) {
    $('error').hidden = false;
    $('error').textContent = err instanceof Error ? err.message : String(err);
  }
}

refresh();
setInterval(refresh, 5000);
