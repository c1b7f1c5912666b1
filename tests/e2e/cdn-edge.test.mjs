// The model CDN behind a real edge: nginx (from the shipped deploy/nginx-cdn.conf) caching in
// front of `burn-edge serve` as the origin. Pages load the model through the edge; the second
// visitor's content-addressed files and manifest come from the edge cache without reaching the
// origin; the channel is revalidated with the origin (a 304); with the origin stopped, the edge
// serves its copies and a page still loads and predicts. Origin traffic is read from nginx's
// access log (`$upstream_status`: "-" when the origin was not asked).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startServerAt } from './cdn-harness.mjs';
import { startEdge } from './edge-harness.mjs';
import { launchBrowser } from './harness.mjs';

/** @type {{ origin: { url: string, stop: () => Promise<void> }, edge: Awaited<ReturnType<typeof startEdge>>,
 *           browser: import('playwright-core').Browser }} */
const env = /** @type {any} */ ({});
let originUp = false;

before(async () => {
  const port = await freePort();
  env.origin = await startServerAt(port);
  originUp = true;
  [env.edge, env.browser] = await Promise.all([startEdge(`127.0.0.1:${port}`), launchBrowser({ webgpu: false })]);
});

after(async () => {
  await env.browser?.close();
  await env.edge?.stop();
  if (originUp) await env.origin?.stop();
});

/** Content-addressed weights or a published manifest. @param {string} path */
const immutable = (path) => /^\/models\/[^/]+\/(files\/[^/]+|[^/]+\/manifest\.json)$/.test(path);
/** The origin answered this request itself. @param {import('./edge-harness.mjs').EdgeHit} h */
const reachedOrigin = (h) => /^\d+$/.test(h.upstream) && h.cache !== 'STALE';

/**
 * A new visitor (fresh browser cache and storage) loads the demo through the edge and
 * classifies three digits; returns the edge's log lines for the visit.
 */
async function visit() {
  await env.edge.since();
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await page.goto(`${env.edge.url}index.html?sw=0&retries=0`);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
    const { error, version, digits } = await page.evaluate(async () => {
      const demo = /** @type {any} */ (window).burnEdgeDemo;
      const out = [];
      if (demo.handle) for (const d of ['1', '7', '0']) out.push(String((await demo.classifySample(d)).digit));
      return { error: demo.error, version: demo.handle?.info().version, digits: out };
    });
    assert.equal(error, null);
    assert.deepEqual(digits, ['1', '7', '0']);
    return { version, hits: await env.edge.since() };
  } finally {
    await context.close();
  }
}

test('the loader works through the edge, which keeps immutable files, revalidates the channel and serves stale with the origin down', { timeout: 180_000 }, async () => {
  const first = await visit();
  const firstFiles = first.hits.filter((h) => immutable(h.path));
  assert.ok(firstFiles.some((h) => h.path.includes('/files/')) && firstFiles.some((h) => h.path.endsWith('/manifest.json')),
    `the first visit fetched weights and a manifest: ${JSON.stringify(first.hits)}`);
  for (const path of new Set(firstFiles.map((h) => h.path))) {
    const h = firstFiles.find((f) => f.path === path);
    assert.ok(h?.cache === 'MISS' && reachedOrigin(h), `first fetch of ${path}: ${JSON.stringify(h)}`);
  }
  assert.ok(first.hits.some((h) => h.path.endsWith('/channel.json') && reachedOrigin(h)));

  const second = await visit();
  assert.equal(second.version, first.version);
  const secondFiles = second.hits.filter((h) => immutable(h.path));
  assert.deepEqual(secondFiles.map((h) => h.path).sort(), firstFiles.map((h) => h.path).sort(), 'the same files');
  assert.ok(secondFiles.every((h) => h.cache === 'HIT' && h.upstream === '-'),
    `weights and manifest came from the edge cache: ${JSON.stringify(secondFiles)}`);
  // Per path, the origin served each immutable file once over both visits.
  for (const path of new Set(firstFiles.map((h) => h.path))) {
    assert.equal([...first.hits, ...second.hits].filter((h) => h.path === path && reachedOrigin(h)).length, 1, path);
  }

  // The channel, once over the edge's 1 s (nginx counts whole seconds: up to 2 s), is
  // revalidated: the origin answers 304, the visitor gets the full file and the origin's own
  // Cache-Control. (Node's fetch asks for other encodings than Chromium: its own cached copy.)
  await (await fetch(`${env.edge.url}models/mnist/channel.json`)).arrayBuffer();
  await env.edge.since();
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const channel = await fetch(`${env.edge.url}models/mnist/channel.json`);
  assert.equal(channel.status, 200);
  assert.equal(channel.headers.get('x-cache-status'), 'REVALIDATED');
  assert.equal(channel.headers.get('cache-control'), 'public, max-age=60');
  assert.ok((await channel.json()).aliases, 'a channel');
  assert.deepEqual((await env.edge.since()).map((h) => [h.path, h.cache, h.upstream]), [['/models/mnist/channel.json', 'REVALIDATED', '304']]);
  const weights = firstFiles.find((h) => h.path.includes('/files/'));
  const cached = await fetch(`${env.edge.url}${weights?.path.slice(1)}`);
  await cached.arrayBuffer();
  assert.equal(cached.headers.get('cache-control'), 'public, max-age=31536000, immutable');

  await env.origin.stop();
  originUp = false;
  await new Promise((resolve) => setTimeout(resolve, 2100)); // every mutable copy is now expired
  const third = await visit();
  assert.equal(third.version, first.version);
  assert.ok(third.hits.length > 0 && third.hits.every((h) => h.status === 200 || h.status === 304), JSON.stringify(third.hits));
  assert.ok(third.hits.every((h) => h.cache === 'HIT' || h.cache === 'STALE'), JSON.stringify(third.hits));
  assert.ok(third.hits.some((h) => h.path === '/index.html' && h.cache === 'STALE'), 'the page itself was served stale');
  const origin = (/** @type {import('./edge-harness.mjs').EdgeHit[]} */ hits) => hits.filter(reachedOrigin).length;
  console.log(`requests through the edge per visit: ${first.hits.length}, ${second.hits.length}, ${third.hits.length} (origin down); ` +
    `reaching the origin: ${origin(first.hits)}, ${origin(second.hits)} ` +
    `(${second.hits.filter((h) => h.upstream === '304').length} of them 304 revalidations), 0; third visit: ` +
    `${third.hits.filter((h) => h.cache === 'STALE').length} STALE, ${third.hits.filter((h) => h.cache === 'HIT').length} HIT`);
  assert.ok(third.hits.some((h) => h.path.endsWith('/channel.json') && h.cache === 'STALE'));
});
