/**
 * @module harness
 * End-to-end test helpers: the real `burn-edge serve` on a free port and Debian's Chromium
 * driven by playwright-core.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

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
export function launchBrowser({ webgpu }) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      ...(webgpu ? ['--enable-unsafe-webgpu'] : []),
      '--no-sandbox', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    ],
  });
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
