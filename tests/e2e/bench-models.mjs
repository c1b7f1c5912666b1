// @module tests/e2e/bench-models: the benchmark networks of scripts/bench-models.py as a user
// brings them: imported from their ONNX file and published with the CLI into models/<name>/
// (gitignored), and ONNX Runtime's reference output on the script's seeded input. Shared by
// the any-model end-to-end test and bench/models.mjs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './harness.mjs';

/** Where scripts/bench-models.py writes the networks. */
export const benchModelsDir = 'target/bench-models';

/** Writes the networks when they are missing (needs Python's onnx, numpy, onnxruntime). */
export function ensureBenchModels() {
  if (!existsSync(`${benchModelsDir}/mlp-bench.reference.json`)) {
    execFileSync('python3', ['scripts/bench-models.py', '--out', benchModelsDir], { stdio: 'inherit' });
  }
}

/**
 * The script's reference: a seeded batch of 2 and ONNX Runtime's output for it.
 * @param {string} name
 * @returns {{ input_shape: number[], input: number[], output_shape: number[], output: number[], params: number, onnx_bytes: number, flops: number }}
 */
export function benchReference(name) {
  return JSON.parse(readFileSync(`${benchModelsDir}/${name}.reference.json`, 'utf8'));
}

/**
 * Publishes the network as models/<name>/ 1.0.0 (stable) unless something is published there:
 * imported from its ONNX file with the CLI, with the spec models/bench/<name>.model.json.
 * Throws the CLI's error on one line.
 * @param {string} name
 */
export function publishBenchModel(name) {
  if (existsSync(`models/${name}/channel.json`)) return;
  const work = mkdtempSync(join(tmpdir(), 'burn-edge-bench-'));
  try {
    const options = { stdio: /** @type {'pipe'} */ ('pipe'), env: { ...process.env, RUST_BACKTRACE: '0', RUST_LIB_BACKTRACE: '0' } };
    execFileSync(cliPath(), ['import-onnx', `${benchModelsDir}/${name}.onnx`, '--code', join(work, 'model.rs'), '--weights', join(work, 'model.bpk')], options);
    execFileSync(cliPath(), ['publish', '--spec', `models/bench/${name}.model.json`, '--weights', join(work, 'model.bpk'), '--version', '1.0.0', '--alias', 'stable'], options);
  } catch (e) {
    const err = /** @type {any} */ (e);
    const text = String(err.stderr || err.message).split('Stack backtrace:')[0];
    throw new Error(`publishing ${name} failed: ${text.replace(/\s+/g, ' ').replace(/^Error: /, '').trim()}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
