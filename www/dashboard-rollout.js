/**
 * @module dashboard-rollout
 * The dashboard's Rollout section for one model, from `GET /api/rollout?model=...`: the arms
 * side by side (control first) with users, predictions, latency, error and fallback rates,
 * drift and, when the collector adds them, significance against control; the sample-ratio
 * check; shadow agreement with the champion x challenger confusion matrix as a heat table;
 * interleave preference; each rule's ramp over time; the guard's and the CLI's decisions,
 * newest first. Everything from the network is put in the page as text (never as markup).
 */

const SVG = 'http://www.w3.org/2000/svg';

/**
 * @typedef {{ diff?: number, pValue?: number, significant?: boolean }} Test
 * @typedef {{ rule: string | null, arm: string | null, version: string, kind?: string | null, users: number,
 *   exposures: number, predictions: number, p50Ms: number | null, p95Ms: number | null, errors: number,
 *   errorRate: number, fallbacks: number, fallbackRate: number, slowOverControlP95: number | null,
 *   drift: { psi: number, level: string } | null, control?: boolean, controlOf?: string, alias?: string,
 *   vsControl?: Record<string, Test>, verdict?: { decision?: string, reason?: string, error?: string } }} Arm
 * @typedef {{ champion: string, challenger: string, pairs: number, agreement: number | null,
 *   confusion: number[][], confusionOutOfRange: number, championP50Ms: number | null, championP95Ms: number | null,
 *   challengerP50Ms: number | null, challengerP95Ms: number | null }} ShadowPair
 * @typedef {{ rule: string, arms: string[], wins: Record<string, number>, ties: number,
 *   preferenceB: number | null, ci95?: [number, number] }} Interleave
 * @typedef {{ rule: string, observed: Record<string, number>, expectedShares: Record<string, number> | null,
 *   chiSquare?: number, pValue?: number, mismatch?: boolean, skipped?: string }} Srm
 * @typedef {{ at?: unknown, action?: unknown, rule?: unknown, by?: unknown, detail?: unknown }} LogEntry
 * @typedef {{ key?: unknown, kind?: unknown, alias?: unknown, coverage?: unknown,
 *   ramp?: { at?: unknown, coverage?: unknown }[], arms?: { name?: unknown, version?: unknown }[] }} ChannelRule
 * @typedef {{ model: string, rule: string | null, arms: Arm[], control: Arm | null, srm: Srm | null,
 *   shadow: ShadowPair[], interleave: Interleave[], swaps: { count: number, p50Ms: number | null, p95Ms: number | null },
 *   channel: { rollout?: { kill?: unknown, rules?: ChannelRule[] } } | null, channelError: string | null,
 *   guard: LogEntry[], logError: string | null }} Report
 */

/**
 * An element with a class and text.
 * @param {string} tag
 * @param {string} [className]
 * @param {unknown} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 */
function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const ms = (/** @type {number | null | undefined} */ v) => (typeof v === 'number' ? `${v.toFixed(1)} ms` : '–');
const pct = (/** @type {unknown} */ v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '–');
const str = (/** @type {unknown} */ v) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/**
 * A table with a header row and one row per item.
 * @param {string[]} headers
 * @param {(HTMLElement | string)[][]} rows
 */
function table(headers, rows) {
  const t = el('table', 'rollout-table');
  const head = el('tr');
  for (const h of headers) head.append(el('th', '', h));
  t.append(head);
  for (const cells of rows) {
    const tr = el('tr');
    for (const c of cells) {
      const td = el('td');
      if (typeof c === 'string') td.textContent = c; else td.append(c);
      tr.append(td);
    }
    t.append(tr);
  }
  return t;
}

/**
 * The significance cell of an arm: each test the collector added, or a dash.
 * @param {Arm} arm
 */
function significance(arm) {
  const box = el('span');
  const tests = arm.vsControl && typeof arm.vsControl === 'object' ? Object.entries(arm.vsControl) : [];
  if (arm.control || !tests.length) {
    box.textContent = arm.control ? 'control' : arm.verdict?.decision === 'notEnoughData' ? 'not enough data yet' : '–';
    if (!arm.control && typeof arm.verdict?.reason === 'string') box.title = arm.verdict.reason;
    return box;
  }
  for (const [name, test] of tests) {
    const sig = test?.significant === true;
    const line = el('div', sig ? 'sig-yes' : 'sig-no');
    const diff = typeof test?.diff === 'number' ? ` ${test.diff >= 0 ? '+' : ''}${(test.diff * 100).toFixed(2)} pp` : '';
    const p = typeof test?.pValue === 'number' ? ` p=${test.pValue.toPrecision(2)}` : '';
    line.textContent = `${name}${diff}${p}${sig ? ' (significant)' : ''}`;
    box.append(line);
  }
  return box;
}

/** @param {Arm} a */
function armRow(a) {
  const name = a.control && a.arm && a.arm !== 'control' ? `${a.arm} (control)` : a.control ? 'control' : str(a.arm);
  const drift = el('span', a.drift ? `level-${a.drift.level}` : '', a.drift ? `${a.drift.psi.toFixed(3)} ${a.drift.level}` : '–');
  return [
    name, a.rule ?? (a.controlOf ? `${str(a.alias)} alias, no rule` : '–'), str(a.version), String(a.users), String(a.exposures), String(a.predictions),
    `${ms(a.p50Ms)} / ${ms(a.p95Ms)}`, `${pct(a.errorRate)} (${a.errors})`, `${pct(a.fallbackRate)} (${a.fallbacks})`,
    drift, a.slowOverControlP95 == null ? '–' : String(a.slowOverControlP95), significance(a),
  ];
}

/** @param {Report} r */
function renderArms(r) {
  const box = el('div', 'rollout-block');
  box.id = 'rollout-arms';
  box.append(el('h3', '', r.rule ? `Arms of ${r.rule}` : 'Arms'));
  /** @type {Arm[]} */
  const arms = [];
  if (r.control) arms.push({ ...r.control, control: true });
  for (const a of r.arms) if (a.rule === r.rule && !a.control) arms.push(a);
  for (const a of r.arms) if (a.rule !== r.rule) arms.push(a);
  if (!arms.length) {
    box.append(el('p', 'hint', 'No rollout events for this model yet.'));
    return box;
  }
  const t = table(
    ['arm', 'rule', 'version', 'users', 'exposures', 'predictions', 'p50 / p95', 'error rate', 'fallback rate', 'drift (PSI)', 'slower than control p95', 'vs control'],
    arms.map(armRow),
  );
  [...t.querySelectorAll('tr')].slice(1).forEach((tr, i) => {
    const a = arms[i];
    tr.dataset.arm = a.control ? 'control' : str(a.arm);
    if (a.control) tr.className = 'control';
  });
  box.append(t);
  return box;
}

/** @param {Srm | null} srm */
function renderSrm(srm) {
  const box = el('p', 'rollout-srm');
  box.id = 'rollout-srm';
  if (!srm) return box;
  const observed = Object.entries(srm.observed ?? {}).map(([k, v]) => `${k} ${v}`).join(' · ');
  const expected = srm.expectedShares ? Object.entries(srm.expectedShares).map(([k, v]) => `${k} ${pct(v)}`).join(' · ') : 'not configured';
  let verdict = typeof srm.skipped === 'string' ? `not tested: ${srm.skipped}` : 'test pending';
  if (typeof srm.chiSquare === 'number') {
    verdict = `χ² ${srm.chiSquare.toFixed(2)}, p ${typeof srm.pValue === 'number' ? srm.pValue.toPrecision(2) : '–'}: ${srm.mismatch ? 'SAMPLE RATIO MISMATCH' : 'split as configured'}`;
  }
  box.append(el('b', '', 'Sample ratio: '), el('span', srm.mismatch ? 'level-alert' : '', verdict), el('span', 'hint', ` · observed ${observed} · expected ${expected}`));
  return box;
}

/**
 * The confusion matrix as a heat table: rows champion class, columns challenger class.
 * @param {number[][]} matrix
 */
function heatTable(matrix) {
  const max = Math.max(1, ...matrix.flat());
  const t = el('table', 'heat');
  const head = el('tr');
  head.append(el('th', '', 'champion ↓ / challenger →'));
  matrix.forEach((_, j) => head.append(el('th', '', j)));
  t.append(head);
  matrix.forEach((row, i) => {
    const tr = el('tr');
    tr.append(el('th', '', i));
    row.forEach((n, j) => {
      const td = el('td', i === j ? 'diag' : '', n || '');
      const alpha = n ? 0.12 + (0.88 * n) / max : 0;
      td.style.backgroundColor = i === j ? `rgba(13, 157, 88, ${alpha})` : `rgba(214, 69, 69, ${alpha})`;
      if (alpha > 0.6) td.style.color = '#fff';
      td.title = `champion ${i}, challenger ${j}: ${n}`;
      tr.append(td);
    });
    t.append(tr);
  });
  return t;
}

/** @param {ShadowPair[]} pairs */
function renderShadow(pairs) {
  const box = el('div', 'rollout-block');
  box.id = 'rollout-shadow';
  box.append(el('h3', '', 'Shadow'));
  if (!pairs.length) box.append(el('p', 'hint', 'No shadow predictions.'));
  for (const p of pairs) {
    const pair = el('div', 'shadow-pair');
    pair.dataset.agreement = String(p.agreement ?? '');
    pair.append(
      el('p', '', `${p.champion} (champion) vs ${p.challenger} (challenger): ${p.pairs} pairs, top-1 agreement ${pct(p.agreement)}`),
      el('p', 'hint', `latency p50 / p95: champion ${ms(p.championP50Ms)} / ${ms(p.championP95Ms)}, challenger ${ms(p.challengerP50Ms)} / ${ms(p.challengerP95Ms)}${p.confusionOutOfRange ? ` · ${p.confusionOutOfRange} pairs outside the matrix` : ''}`),
      heatTable(p.confusion),
    );
    box.append(pair);
  }
  return box;
}

/** @param {Interleave[]} rows */
function renderInterleave(rows) {
  const box = el('div', 'rollout-block');
  box.id = 'rollout-interleave';
  box.append(el('h3', '', 'Interleaving'));
  if (!rows.length) box.append(el('p', 'hint', 'No interleaved picks.'));
  for (const r of rows) {
    const wins = Object.entries(r.wins ?? {}).map(([k, v]) => `${k} ${v}`).join(' · ');
    const b = r.arms?.[1];
    const ci = Array.isArray(r.ci95) && r.ci95.length === 2 ? ` (95% CI ${pct(r.ci95[0])}–${pct(r.ci95[1])})` : '';
    const line = el('p');
    line.dataset.rule = r.rule;
    line.append(el('b', '', r.rule), document.createTextNode(`: wins ${wins} · ties ${r.ties}${b && r.preferenceB != null ? ` · preference for ${b} ${pct(r.preferenceB)}${ci}` : ''}`));
    if (r.preferenceB != null) {
      const bar = el('span', 'pref-bar');
      const fill = el('span');
      fill.style.width = `${Math.max(0, Math.min(1, r.preferenceB)) * 100}%`;
      bar.append(fill);
      line.append(bar);
    }
    box.append(line);
  }
  return box;
}

/**
 * Each rule's coverage over time: its ramp steps as a step line, and the coverage now.
 * @param {Report} r
 */
function renderRamp(r) {
  const box = el('div', 'rollout-block');
  box.id = 'rollout-ramp';
  box.append(el('h3', '', 'Ramp'));
  const rules = Array.isArray(r.channel?.rollout?.rules) ? r.channel.rollout.rules : [];
  if (r.channel?.rollout?.kill === true) box.append(el('p', 'level-alert', 'Kill switch on: everyone is on the stable alias.'));
  if (!rules.length) box.append(el('p', 'hint', r.channelError ?? 'No rollout rules in the channel file.'));
  const now = Date.now();
  for (const rule of rules) {
    const steps = (Array.isArray(rule.ramp) ? rule.ramp : [])
      .map((s) => ({ at: Date.parse(str(s?.at)), coverage: Number(s?.coverage) }))
      .filter((s) => Number.isFinite(s.at) && Number.isFinite(s.coverage))
      .sort((a, b) => a.at - b.at);
    const current = [...steps].reverse().find((s) => s.at <= now)?.coverage ?? Number(rule.coverage);
    const line = el('div', 'ramp');
    line.dataset.rule = str(rule.key);
    const arms = Array.isArray(rule.arms) ? rule.arms.map((a) => `${str(a?.name)}=${str(a?.version)}`).join(', ') : '';
    line.append(el('p', '', `${str(rule.key)} (${str(rule.kind) || 'rollout'} on ${str(rule.alias)}; ${arms}): coverage now ${pct(current)}`));
    if (steps.length) line.append(rampChart(steps, now, current));
    box.append(line);
  }
  return box;
}

/**
 * @param {{ at: number, coverage: number }[]} steps  sorted by time
 * @param {number} now
 * @param {number} current
 */
function rampChart(steps, now, current) {
  const w = 380, h = 110, left = 34, bottom = 18;
  // From the first step to a little past the later of now and the last step.
  const t0 = steps[0].at, end = Math.max(now, steps[steps.length - 1].at);
  const t1 = end + Math.max(60_000, (end - t0) * 0.15);
  const x = (/** @type {number} */ t) => left + ((t - t0) * (w - left - 8)) / (t1 - t0);
  const y = (/** @type {number} */ c) => h - bottom - (h - bottom - 8) * Math.max(0, Math.min(1, c));
  const svg = svgEl('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  let points = '';
  steps.forEach((s, i) => {
    const next = i + 1 < steps.length ? steps[i + 1].at : t1;
    points += `${x(s.at)},${y(s.coverage)} ${x(next)},${y(s.coverage)} `;
    svg.append(svgEl('circle', { cx: x(s.at), cy: y(s.coverage), r: 3, fill: '#3a6ff7' }));
    svg.append(svgEl('text', { x: Math.min(x(s.at) + 3, w - 36), y: y(s.coverage) - 4, 'font-size': 10, fill: '#4d5566' }, pct(s.coverage)));
  });
  svg.append(svgEl('polyline', { points, fill: 'none', stroke: '#3a6ff7', 'stroke-width': 2 }));
  if (now >= t0) {
    svg.append(svgEl('line', { x1: x(now), x2: x(now), y1: 4, y2: h - bottom, stroke: '#d64545', 'stroke-dasharray': '3 3' }));
    svg.append(svgEl('text', { x: Math.min(x(now) + 3, w - 60), y: 12, 'font-size': 10, fill: '#d64545' }, `now ${pct(current)}`));
  }
  svg.append(svgEl('text', { x: 2, y: 12, 'font-size': 10, fill: '#4d5566' }, '100%'));
  svg.append(svgEl('text', { x: 2, y: h - bottom, 'font-size': 10, fill: '#4d5566' }, '0%'));
  const time = (/** @type {number} */ t) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');
  svg.append(svgEl('text', { x: left, y: h - 4, 'font-size': 10, fill: '#4d5566' }, time(t0)));
  svg.append(svgEl('text', { x: w - 8, y: h - 4, 'font-size': 10, fill: '#4d5566', 'text-anchor': 'end' }, `${time(t1)} UTC`));
  return svg;
}

/** @param {Report} r */
function renderLog(r) {
  const box = el('div', 'rollout-block');
  box.id = 'rollout-log';
  box.append(el('h3', '', 'Guard and CLI log'));
  if (r.logError) box.append(el('p', 'error', `rollout-log.json: ${r.logError}`));
  const entries = Array.isArray(r.guard) ? [...r.guard].reverse() : [];
  if (!entries.length) {
    box.append(el('p', 'hint', 'No decisions logged.'));
    return box;
  }
  const t = table(['time', 'action', 'rule', 'by', 'detail'], entries.map((e) => [str(e.at).replace('T', ' '), str(e.action), str(e.rule), str(e.by), str(e.detail)]));
  t.classList.add('log-table');
  [...t.querySelectorAll('tr')].slice(1).forEach((tr, i) => { if (entries[i].by === 'guard') tr.className = 'by-guard'; });
  box.append(t);
  return box;
}

/**
 * Renders a report into `root`.
 * @param {HTMLElement} root
 * @param {Report} r
 */
export function renderRollout(root, r) {
  const swaps = el('p', 'hint', `Hot swaps: ${r.swaps?.count ?? 0}${r.swaps?.count ? ` · p50 ${ms(r.swaps.p50Ms)} · p95 ${ms(r.swaps.p95Ms)}` : ''}`);
  swaps.id = 'rollout-swaps';
  const blocks = [renderArms(r), renderSrm(r.srm), swaps];
  if (r.channelError) blocks.push(el('p', 'error', `channel.json: ${r.channelError}`));
  const row = el('div', 'rollout-row');
  row.append(renderShadow(r.shadow ?? []), renderInterleave(r.interleave ?? []));
  const row2 = el('div', 'rollout-row');
  row2.append(renderRamp(r), renderLog(r));
  root.replaceChildren(...blocks, row, row2);
}

/**
 * Fetches and renders the report of `model` into `root`; returns the HTTP status.
 * @param {HTMLElement} root
 * @param {string} model
 * @param {string} key  the read key
 */
export async function refreshRollout(root, model, key) {
  const res = await fetch(`/api/rollout?model=${encodeURIComponent(model)}`, { cache: 'no-store', headers: { 'x-burn-edge-read-key': key } });
  if (!res.ok) {
    const message = el('p', 'error', `/api/rollout: HTTP ${res.status}`);
    root.replaceChildren(message);
    return res.status;
  }
  renderRollout(root, /** @type {Report} */ (await res.json()));
  return res.status;
}
