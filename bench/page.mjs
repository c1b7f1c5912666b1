// @module bench/page: runs one in-page benchmark in a fresh headless Chromium and returns the
// `window.benchResult` the page sets (shared by bench/bench.mjs and bench/squeezenet.mjs).
import { launchBrowser } from '../tests/e2e/harness.mjs';

/**
 * @param {string} url the benchmark page with its query
 * @param {{ webgpu: boolean, label: string, timeout?: number }} options
 * @returns {Promise<any>}
 */
export async function runBenchPage(url, { webgpu, label, timeout = 600_000 }) {
  const browser = await launchBrowser({ webgpu });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => /** @type {any} */ (window).benchResult, null, { timeout });
    const r = await page.evaluate(() => /** @type {any} */ (window).benchResult);
    if (r.error) throw new Error(`${label}: ${r.error}`);
    return r;
  } finally {
    await browser.close();
  }
}
