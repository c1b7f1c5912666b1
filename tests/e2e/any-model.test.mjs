// A user's own model end to end: networks nobody tuned burn-edge for (scripts/bench-models.py's
// MobileNetV2-style and tabular MLP ONNX files, seeded weights), imported and published with the
// CLI as a user does, loaded by a plain page through the package's `loadModel` from the real
// server, on the CPU build (burn-edge's kernels, through the compiled plan) and on WebGPU
// (SwiftShader): outputs within 1e-4 of ONNX Runtime's, every operation on the kernels, and the
// runtime's wasm memory flat over 100 predictions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser } from './harness.mjs';
import { benchReference, ensureBenchModels, publishBenchModel } from './bench-models.mjs';

/** @type {{ url: string, stop: () => void }} */
let server;
before(async () => {
  ensureBenchModels();
  for (const name of ['mobilenet-bench', 'mlp-bench']) publishBenchModel(name);
  server = await startServer();
});
after(() => server?.stop());

/**
 * Loads `name` on `backend` in a blank page of the server and predicts the reference batch.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 * @param {string} backend
 * @param {number} repeats predictions after the first, for the memory check
 */
const predict = (page, name, backend, repeats) => page.evaluate(async ({ name, backend, input, repeats }) => {
  const { loadModel } = await import('/lib/index.js');
  const model = await loadModel({ channelUrl: `/models/${name}/channel.json`, backend: /** @type {any} */ (backend) });
  const x = Float32Array.from(input);
  const output = [...await model.predict(x)];
  const before = await model.memory();
  for (let i = 0; i < repeats; i++) await model.predict(x);
  const afterRuns = await model.memory();
  const info = model.info();
  model.dispose();
  return { output, info, before, afterRuns };
}, { name, backend, input: benchReference(name).input, repeats });

for (const backend of ['cpu', 'webgpu']) {
  test(`user models predict like ONNX Runtime on ${backend}`, { timeout: 600_000 }, async () => {
    const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}index.html`);
      for (const name of ['mobilenet-bench', 'mlp-bench']) {
        // SwiftShader takes seconds per MobileNet inference: the memory loop runs on the CPU only.
        const repeats = backend === 'cpu' ? 100 : 0;
        const { output, info, before, afterRuns } = await predict(page, name, backend, repeats);
        const reference = benchReference(name).output;
        assert.equal(output.length, reference.length, name);
        const diff = Math.max(...output.map((v, i) => Math.abs(v - reference[i])));
        console.log(`${name} on ${backend}: max |burn-edge - onnxruntime| = ${diff.toExponential(2)}`);
        assert.ok(diff <= 1e-4, `${name} on ${backend} differs from ONNX Runtime by ${diff}`);
        assert.equal(info.backend, backend);
        assert.equal(info.architecture, name);
        if (backend === 'cpu') {
          assert.equal(info.cpuKernels, 'burn-edge', info.planError ?? '');
          assert.deepEqual(info.plan.burnOps, [], `${name}: every operation on burn-edge's kernels`);
          assert.ok(info.plan.kernelSteps > 0 && info.plan.weightBytes > 0);
          assert.ok(before.afterCreation > 0 && before.now >= before.afterCreation);
          console.log(`${name}: wasm memory after creation ${before.afterCreation} B, after ${repeats + 1} predictions ${afterRuns.now} B; plan weights ${info.plan.weightBytes} B`);
          assert.equal(afterRuns.now, before.now, `${name}: wasm memory grew over ${repeats} predictions`);
        }
      }
    } finally {
      await browser.close();
    }
  });
}
