// The demo app's photo input end to end: SqueezeNet (imported from ONNX, published by
// scripts/import-models.sh) loaded through the CDN loader from the real server, classifying
// the sample photos in Chromium on the CPU build and on WebGPU (SwiftShader), an opened file,
// and a file that is not an image, with no CSP violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launchBrowser, guardCsp } from './harness.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

// Top-1 per ../shared/datasets/README.md.
const EXPECTED = {
  'fish.png': 'tench, Tinca tinca',
  'kitten_224.png': 'tabby, tabby cat',
  'cat.jpg': 'Egyptian cat',
  'bridge.jpg': 'suspension bridge',
  'coyote.jpg': 'coyote, prairie wolf, brush wolf, Canis latrans',
  'flamingo.jpg': 'flamingo',
};

/** The upstream reference probabilities for fish.png. */
const fishReference = readFileSync(new URL('../../../shared/datasets/squeezenet/Squeezenet_fp16_fish_input_CPU.csv', import.meta.url), 'utf8')
  .trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));

/**
 * The page's own classification (rendered top-5) of a sample.
 * @param {import('playwright-core').Page} page
 * @param {string} sample
 * @returns {Promise<{ label: string, probability: number }[]>}
 */
const classify = (page, sample) => page.evaluate((s) => /** @type {any} */ (window).burnEdgeDemo.classifyPhoto(`/samples/${s}`), sample);

/**
 * All 1000 probabilities of a sample through the package API.
 * @param {import('playwright-core').Page} page
 * @param {string} sample
 * @returns {Promise<number[]>}
 */
const probabilities = (page, sample) => page.evaluate(async (s) => {
  const { handle } = /** @type {any} */ (window).burnEdgeDemo;
  const blob = await (await fetch(`/samples/${s}`)).blob();
  return [...await handle.predict(await handle.prepareImage(blob))];
}, sample);

for (const backend of ['cpu', 'webgpu']) {
  test(`sample photos are classified on ${backend}`, { timeout: 600_000 }, async () => {
    const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
    try {
      const page = await browser.newPage();
      const violations = await guardCsp(page);
      await page.goto(`${server.url}?sw=0&model=squeezenet&backend=${backend}`);
      await page.waitForSelector('body[data-ready]', { timeout: 240_000 });
      // Chromium validates relaxed SIMD: the CPU runs burn-edge's kernels from that module.
      assert.equal(await page.textContent('#st-backend'), backend === 'cpu' ? 'cpu (burn-edge kernels, relaxed wasm SIMD)' : backend);
      // WebGPU runs on a software adapter here: seconds per photo, so fewer photos.
      const samples = backend === 'cpu' ? Object.keys(EXPECTED) : ['fish.png', 'coyote.jpg'];
      for (const sample of samples) {
        const top = await classify(page, sample);
        assert.equal(top.length, 5);
        assert.equal(top[0].label, EXPECTED[/** @type {keyof typeof EXPECTED} */ (sample)], sample);
        if (sample === 'fish.png') {
          const probs = await probabilities(page, sample);
          const diff = Math.max(...probs.map((p, i) => Math.abs(p - fishReference[i])));
          console.log(`fish.png on ${backend}: max |ours - upstream reference| = ${diff.toExponential(2)}`);
          assert.ok(diff < 1e-3, `fish.png differs from the reference by ${diff}`);
        }
      }
      assert.match(await page.textContent('#top5 li:first-child') ?? '', /%/);
      assert.deepEqual(await violations(), []);
    } finally {
      await browser.close();
    }
  });
}

test('an opened file is classified and a non-image is refused with a message', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    const page = await browser.newPage();
    const violations = await guardCsp(page);
    await page.goto(`${server.url}?sw=0&model=squeezenet&backend=cpu`);
    await page.waitForSelector('body[data-top]', { timeout: 240_000 });
    const photo = readFileSync(new URL('../../../shared/datasets/squeezenet/images/flamingo.jpg', import.meta.url));
    await page.setInputFiles('#file', { name: 'bird.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.waitForFunction(() => document.body.dataset.top === 'flamingo', null, { timeout: 60_000 });
    await page.setInputFiles('#file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a picture') });
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    assert.match(await page.textContent('#error') ?? '', /decod|image|source/i);
    assert.equal(await page.getAttribute('body', 'data-top'), 'flamingo', 'the refused file left the result as it was');
    assert.deepEqual(await violations(), []);
  } finally {
    await browser.close();
  }
});
