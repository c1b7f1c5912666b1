/**
 * @module harness
 * End-to-end test helpers: the real `burn-edge serve` on a free port and Debian's Chromium
 * driven by playwright-core. Every page of a browser from `launchBrowser` is watched for
 * Content-Security-Policy violations (`guardCsp`), and in a test file each test fails on any
 * its pages saw (`allowCspViolations` exempts a page that provokes them on purpose).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { chromium } from 'playwright-core';

/**
 * @typedef {{ directive: string, blocked: string, source: string, line: number, sample: string, url: string }} CspViolation
 *   `directive`: the violated directive (`'console'` for one a worker logged); `url`: the document's
 */

/** Each watched page's violations, kept in Node so a navigation or a closed page loses none. */
const violations = /** @type {Map<import('playwright-core').Page, CspViolation[]>} */ (new Map());
/** Pages whose violations are the point of their test. */
const allowed = /** @type {WeakSet<import('playwright-core').Page>} */ (new WeakSet());
/** Contexts whose pages report through the binding already. */
const watchedContexts = /** @type {WeakSet<import('playwright-core').BrowserContext>} */ (new WeakSet());
const BINDING = '__burnEdgeCspViolation';

/** Runs in every document before its scripts: records each violation and reports it to Node. */
function recordViolations(/** @type {string} */ binding) {
  const w = /** @type {any} */ (window);
  if (w.__cspViolations) return;
  w.__cspViolations = [];
  addEventListener('securitypolicyviolation', (e) => {
    const v = { directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
      line: e.lineNumber, sample: e.sample, url: location.href };
    w.__cspViolations.push(v);
    w[binding]?.(v);
  });
}

/** @param {import('playwright-core').Page} page @param {CspViolation} v */
function record(page, v) {
  if (!violations.has(page)) violations.set(page, []);
  violations.get(page)?.push(v);
}

/**
 * Watches `page`'s console for the violations Chromium logs, which covers its workers (their
 * events reach no init script); a page's own then shows twice, which is no matter.
 * @param {import('playwright-core').Page} page
 */
function watchConsole(page) {
  if (violations.has(page)) return;
  violations.set(page, []);
  page.on('console', (message) => {
    const text = message.text();
    if (/violates the following Content Security Policy/.test(text)) {
      record(page, { directive: 'console', blocked: '', source: message.location().url, line: message.location().lineNumber,
        sample: text, url: page.url() });
    }
  });
}

/**
 * Records every `securitypolicyviolation` in `page` (and its documents after navigations) into
 * `window.__cspViolations`, and the violations its workers log; the function it returns reads
 * them all so far. Call it before `page.goto`. Pages of a `launchBrowser` browser are guarded
 * already (calling it again returns the same reader).
 * @param {import('playwright-core').Page} page
 * @returns {Promise<() => Promise<CspViolation[]>>}
 */
export async function guardCsp(page) {
  if (!watchedContexts.has(page.context()) && !violations.has(page)) {
    watchConsole(page);
    await page.exposeBinding(BINDING, (_source, /** @type {CspViolation} */ v) => record(page, v));
    await page.addInitScript(recordViolations, BINDING);
  }
  watchConsole(page);
  return async () => {
    // A round trip to the page delivers the reports it made before.
    if (!page.isClosed()) await page.evaluate(() => 0).catch(() => {});
    return [...(violations.get(page) ?? [])];
  };
}

/** Exempts `page` from the per-test check: its test provokes violations and reads them itself. @param {import('playwright-core').Page} page */
export function allowCspViolations(page) {
  allowed.add(page);
}

/** Guards every page of `context` (see `guardCsp`). @param {import('playwright-core').BrowserContext} context */
async function guardContext(context) {
  await context.exposeBinding(BINDING, ({ page }, /** @type {CspViolation} */ v) => record(page, v));
  await context.addInitScript(recordViolations, BINDING);
  watchedContexts.add(context);
  context.on('page', watchConsole);
}

// In a test file (not a benchmark script importing these helpers): a test fails on any CSP
// violation of a page it opened.
if (process.env.NODE_TEST_CONTEXT || /\.test\.mjs$/.test(process.argv[1] ?? '')) {
  afterEach(async () => {
    const seen = [];
    for (const [page, list] of violations) {
      if (!page.isClosed()) await page.evaluate(() => 0).catch(() => {});
      if (!allowed.has(page)) seen.push(...list);
      if (page.isClosed()) violations.delete(page);
      else list.length = 0;
    }
    assert.deepEqual(seen, [], 'Content-Security-Policy violations');
  });
}

/**
 * `burn-edge serve` arguments for a test whose pages fetch from a stand-in on another loopback
 * port (a mirror, a collector, a cloud): the Content-Security-Policy's connect-src allows them.
 */
/**
 * An init script (`context.addInitScript(drawDigit)`) defining `window.drawDigit(points)`: a
 * 280x280 OffscreenCanvas with the stroke through `points` drawn white on black, as on the
 * demo's pad, for tests that classify a drawn digit in the page.
 */
export function drawDigit() {
  /** @param {number[][]} points */
  /** @type {any} */ (window).drawDigit = (points) => {
    const canvas = new OffscreenCanvas(280, 280);
    const g = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
    g.fillStyle = '#000';
    g.fillRect(0, 0, 280, 280);
    g.strokeStyle = '#fff';
    g.lineWidth = 24;
    g.lineCap = 'round';
    g.beginPath();
    g.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) g.lineTo(x, y);
    g.stroke();
    return canvas;
  };
}

export const LOOPBACK_CONNECT = ['--connect-src', 'http://127.0.0.1:*'];

/**
 * A temporary copy of the project for `burn-edge serve --root`: www/ and pkg/ linked, models/
 * copied (a test or benchmark may publish into it). `remove()` deletes the links, not what
 * they point at.
 * @param {string} prefix
 */
export function projectCopy(prefix) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  symlinkSync(resolve('www'), join(root, 'www'));
  symlinkSync(resolve('pkg'), join(root, 'pkg'));
  cpSync('models', join(root, 'models'), { recursive: true });
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Path of the CLI binary: $BURN_EDGE_BIN or the dev build in the cargo target dir. */
export function cliPath() {
  if (process.env.BURN_EDGE_BIN) return process.env.BURN_EDGE_BIN;
  const target = process.env.CARGO_TARGET_DIR || 'target';
  return join(target, 'debug', 'burn-edge');
}

/**
 * Starts `burn-edge serve` on a free loopback port, with `args` added (e.g. `--models DIR`).
 * @param {string[]} [args]
 * @returns {Promise<{ url: string, stop: () => void }>}
 */
export function startServer(args = []) {
  return new Promise((resolve, reject) => {
    // Each server gets its own telemetry store, so parallel test files never share one.
    const dir = mkdtempSync(join(tmpdir(), 'burn-edge-e2e-'));
    const db = join(dir, 'telemetry.sqlite');
    const child = spawn(cliPath(), ['serve', '--addr', '127.0.0.1:0', '--telemetry-db', db, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => {
      rmSync(dir, { recursive: true, force: true }); // the store lives and dies with its server
      reject(new Error(`burn-edge serve exited with ${code}: ${out}`));
    });
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/http:\/\/[\d.]+:\d+\//);
      if (match) resolve({ url: match[0], stop: () => child.kill() });
    });
  });
}

/**
 * Launches headless Chromium, with a WebGPU adapter (SwiftShader) or without one.
 * Playwright gives every launch its own fresh temporary profile.
 * @param {{ webgpu: boolean }} options
 */
export async function launchBrowser({ webgpu }) {
  const browser = await chromium.launch(chromiumOptions({ webgpu }));
  // Every context, and so every page, is CSP-guarded; `newPage` keeps its own context, closed with it.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    await guardContext(context);
    return context;
  };
  browser.newPage = async (options) => {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    page.on('close', () => { context.close().catch(() => {}); });
    return page;
  };
  return browser;
}

/**
 * The launch options of Debian's Chromium here (also for `chromium.launchPersistentContext`).
 * @param {{ webgpu: boolean }} options
 */
export function chromiumOptions({ webgpu }) {
  return {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      ...(webgpu ? ['--enable-unsafe-webgpu'] : []),
      '--no-sandbox', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    ],
  };
}

/**
 * The usual set-up of a test file: the server and a browser started before its tests, both
 * stopped after them. The fields are filled in by the time the first test runs.
 * @param {{ webgpu?: boolean, args?: string[] }} [options] `args`: added to `burn-edge serve` (e.g. `--root DIR`)
 */
export function serverAndBrowser({ webgpu = false, args = [] } = {}) {
  const env = /** @type {{ server: { url: string, stop: () => void }, browser: import('playwright-core').Browser }} */ ({});
  before(async () => {
    [env.server, env.browser] = await Promise.all([startServer(args), launchBrowser({ webgpu })]);
  });
  after(async () => {
    await env.browser?.close();
    env.server?.stop();
  });
  return env;
}

