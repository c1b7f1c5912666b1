/**
 * @module app-pages
 * Helpers for the demo app's end-to-end tests: drawing with the mouse, axe-core's WCAG 2 A/AA
 * checks, screenshots kept as test artefacts (target/screenshots/, gitignored), a models folder
 * with an extra model that has no image input, and the app's own timing of its first prediction.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { signer } from './cdn-harness.mjs';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Where screenshots go: looked at by people, never compared by tests. */
export const SCREENSHOTS = join(process.env.CARGO_TARGET_DIR || 'target', 'screenshots');

/**
 * Draws strokes (lists of [x, y] in canvas pixels of the 280x280 pad) with the mouse.
 * @param {import('playwright-core').Page} page
 * @param {number[][][]} strokes
 */
export async function draw(page, strokes) {
  const box = await page.locator('#pad').boundingBox();
  assert.ok(box);
  const scale = box.width / 280;
  for (const stroke of strokes) {
    await page.mouse.move(box.x + stroke[0][0] * scale, box.y + stroke[0][1] * scale);
    await page.mouse.down();
    for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x * scale, box.y + y * scale, { steps: 8 });
    await page.mouse.up();
  }
}

/**
 * axe-core's WCAG 2.0/2.1 A and AA violations on the page as it is now, one line each. Run
 * through the debugging protocol (page.evaluate), which the page's CSP does not govern.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<string[]>}
 */
export async function accessibilityViolations(page) {
  await page.evaluate(`(() => { if (!window.axe) { ${axeSource}\n } })()`);
  return page.evaluate(async () => {
    const axe = /** @type {any} */ (window).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((/** @type {any} */ v) =>
      `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((/** @type {any} */ n) => `${n.target.join(' ')}: ${n.failureSummary}`).join(' | ')}`);
  });
}

/**
 * A full-page screenshot at target/screenshots/<name>.png.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * A copy of models/ with one more model, `digits-raw`: MNIST's weights published under a
 * manifest with no preprocessing, so the app offers it as plain numbers (the generic input),
 * signed with the dev key the demo pins.
 * @returns {string} the folder, for `burn-edge serve --models`
 */
export function modelsWithRawModel() {
  const dir = mkdtempSync(join(tmpdir(), 'burn-edge-app-models-'));
  cpSync('models', dir, { recursive: true });
  const dev = signer();
  const raw = join(dir, 'digits-raw');
  mkdirSync(join(raw, '1.0.0'), { recursive: true });
  cpSync(join(dir, 'mnist/files'), join(raw, 'files'), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'mnist/1.0.0/manifest.json'), 'utf8'));
  manifest.name = 'digits-raw';
  manifest.input = { shape: manifest.input.shape, dtype: 'f32' };
  const manifestText = JSON.stringify(manifest, null, 2);
  writeFileSync(join(raw, '1.0.0/manifest.json'), manifestText);
  writeFileSync(join(raw, '1.0.0/manifest.json.sig'), dev.sign('manifest', manifestText));
  const channel = JSON.stringify({ schemaVersion: 1, name: 'digits-raw', aliases: { stable: '1.0.0' }, versions: ['1.0.0'],
    updatedAt: '2026-12-01T00:00:00Z' }, null, 2);
  writeFileSync(join(raw, 'channel.json'), channel);
  writeFileSync(join(raw, 'channel.json.sig'), dev.sign('channel', channel));
  return dir;
}

/**
 * Milliseconds from the page's navigation start to its first prediction (the app records it).
 * @param {import('playwright-core').Page} page
 * @returns {Promise<number>}
 */
export const firstPredictionMs = (page) => page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.firstPredictionAt);
