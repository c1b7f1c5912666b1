// `burn-edge export-onnx` end to end: the committed MNIST weights exported to ONNX run in ONNX
// Runtime Web (served by our server, as in the benchmark) and give the probabilities our own
// runtime gives for the same inputs; a file that is not Burnpack weights is a named error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cliPath, startServer } from './harness.mjs';
import { vendorOrt } from '../../bench/ort.mjs';
import { runBenchPage } from '../../bench/page.mjs';

test('exported MNIST ONNX runs in ONNX Runtime Web with our probabilities', async () => {
  mkdirSync('pkg/vendor', { recursive: true });
  vendorOrt();
  const out = execFileSync(cliPath(), ['export-onnx', 'models/mnist/model.bpk', '--out', 'pkg/vendor/mnist.onnx'], { encoding: 'utf8' });
  assert.match(out, /exported models\/mnist\/model\.bpk \(mnist-cnn\) -> pkg\/vendor\/mnist\.onnx \(\d+ bytes\)/);
  const server = await startServer();
  try {
    // The benchmark pages, 3 runs each: ours on the CPU, then the exported file in ORT.
    const ours = await runBenchPage(`${server.url}bench.html?build=cpu&backend=cpu&runs=3`, { webgpu: false, label: 'burn-edge', timeout: 120_000 });
    const ort = await runBenchPage(`${server.url}bench.html?system=ort&threads=1&runs=3`, { webgpu: false, label: 'ORT', timeout: 120_000 });
    assert.equal(ort.output.length, 10);
    const diff = Math.max(...ort.output.map((/** @type {number} */ v, /** @type {number} */ i) => Math.abs(v - ours.output[i])));
    assert.ok(diff < 1e-5, `max |diff| ${diff}`);
    assert.ok(Math.abs(ort.output.reduce((/** @type {number} */ a, /** @type {number} */ b) => a + b, 0) - 1) < 1e-4, 'ORT output is probabilities');
  } finally {
    server.stop();
  }
});

test('export-onnx names weights it cannot read', () => {
  const run = spawnSync(cliPath(), ['export-onnx', 'README.md', '--out', 'pkg/vendor/bad.onnx'], { encoding: 'utf8' });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /weights are not a valid Burnpack file/);
});
