// The Content-Security-Policy of `burn-edge serve` in Chromium: every page strict but the
// documented ONNX Runtime exception, the hook that fails a test on a violation shown to
// catch each kind (inline script and handler, blob: script and worker, a fetch elsewhere), the
// inference worker under the same policy, and --connect-src widening connect-src alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { allowCspViolations, cliPath, guardCsp, serverAndBrowser, startServer } from './harness.mjs';

const run = promisify(execFile);
const TIMEOUT = { timeout: 120_000 };
const env = serverAndBrowser();
const STRICT = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self';";
const ORT_PAGES = ['bench.html', 'bench-models.html', 'bench-squeezenet.html'];

test('every page is served with the strict policy, the ONNX Runtime benchmark pages with theirs', async () => {
  const pages = readdirSync('www').filter((f) => f.endsWith('.html'));
  assert.ok(pages.length >= 5, `${pages}`);
  for (const page of ['', ...pages, 'lib/worker.js', 'pkg/cpu/burn_edge.js']) {
    const csp = (await fetch(`${env.server.url}${page}`)).headers.get('content-security-policy') ?? '';
    if (ORT_PAGES.includes(page)) {
      assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' blob:; worker-src 'self' blob:/, page);
    } else {
      assert.ok(csp.startsWith(STRICT), `${page || '/'}: ${csp}`);
      assert.doesNotMatch(csp, /'unsafe-eval'|unsafe-inline|script-src[^;]*blob:|worker-src[^;]*blob:/, page);
    }
  }
});

test('the guard records every kind of violation the policy refuses (inline script and handler, blob: script and worker, fetch elsewhere)', TIMEOUT, async () => {
  const page = await env.browser.newPage();
  try {
    allowCspViolations(page);
    const read = await guardCsp(page);
    await page.goto(`${env.server.url}dashboard.html`);
    const outcome = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.inlineRan = true';
      document.body.append(s);
      const button = document.createElement('button');
      button.setAttribute('onclick', 'window.handlerRan = true');
      document.body.append(button);
      button.click();
      const blob = URL.createObjectURL(new Blob(['export default 1'], { type: 'text/javascript' }));
      const imported = await import(blob).then(() => true, () => false);
      let worker = true;
      try {
        new Worker(blob, { type: 'module' });
      } catch { worker = false; }
      const fetched = await fetch('http://127.0.0.1:9/').then(() => true, () => false);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the violation events are queued tasks
      return { inline: 'inlineRan' in window, handler: 'handlerRan' in window, imported, fetched, worker };
    });
    assert.deepEqual({ ...outcome, worker: undefined }, { inline: false, handler: false, imported: false, fetched: false, worker: undefined });
    const directives = new Set((await read()).map((v) => v.directive));
    for (const d of ['script-src-elem', 'script-src-attr', 'worker-src', 'connect-src']) assert.ok(directives.has(d), `${d} in ${[...directives]}`);
  } finally {
    await page.close();
  }
});

test('the demo predicts under the strict policy with no violation, and its inference worker is under the policy too', TIMEOUT, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const read = await guardCsp(page);
    await page.goto(`${env.server.url}index.html?sw=0&backend=cpu`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).burnEdgeDemo.error), null);
    const [worker] = page.workers();
    assert.ok(worker, 'the inference worker runs');
    const inWorker = await worker.evaluate(async () => {
      const blob = URL.createObjectURL(new Blob(['export default 1'], { type: 'text/javascript' }));
      return { imported: await import(blob).then(() => true, () => false) };
    });
    assert.deepEqual(inWorker, { imported: false });
    allowCspViolations(page); // the refusal just provoked in the worker
    assert.deepEqual((await read()).filter((v) => v.directive !== 'console'), [], 'none in the page');
  } finally {
    await context.close();
  }
});

test('--connect-src adds origins to connect-src alone; a bad one stops serve with a clear error', TIMEOUT, async () => {
  const wide = await startServer(['--connect-src', 'https://cdn.example', '--connect-src', 'http://127.0.0.1:*']);
  try {
    const csp = (await fetch(wide.url)).headers.get('content-security-policy') ?? '';
    assert.match(csp, /connect-src 'self' https:\/\/cdn\.example http:\/\/127\.0\.0\.1:\*;/);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'; worker-src 'self';/);
  } finally {
    wide.stop();
  }
  const bad = await run(cliPath(), ['serve', '--addr', '127.0.0.1:0', '--connect-src', "https://x.example; script-src 'unsafe-eval'"])
    .then(() => null, (err) => err);
  assert.ok(bad, 'serve refused the option');
  assert.match(bad.stderr, /--connect-src.*is not a connect-src origin: give scheme:\/\/host\[:port\]/s);
});
