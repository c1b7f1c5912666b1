// Every file the loader fetches, corrupted at random offsets in Chromium: the weights, the
// runtime's wasm and glue, the channel and the manifest. Each mutation must be refused
// (IntegrityError, or the last verified version serving from the cache), and nothing mutated
// may reach the caches. The page pins the dev release key (scripts/import-models.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { launchBrowser, startServer } from '../e2e/harness.mjs';
import { loaderCache } from '../e2e/cdn-harness.mjs';
import { report, scaled } from './support.mjs';

const perKind = Number(process.env.BURN_EDGE_CORRUPTIONS) || scaled({ short: 2, full: 40 });
const seed = Number(process.env.BURN_EDGE_SEED || Date.now() % 1_000_000);
const canary = JSON.parse(readFileSync('models/mnist/1.1.0/manifest.json', 'utf8'));
const stable = JSON.parse(readFileSync('models/mnist/1.0.0/manifest.json', 'utf8'));
/** What a page loads, by kind: a URL glob and the genuine file on disk. */
const KINDS = {
  weights: { glob: `**/models/mnist/files/${canary.files[0].sha256}.*`, file: `models/mnist/1.1.0/${canary.files[0].path}` },
  manifest: { glob: '**/models/mnist/1.1.0/manifest.json', file: 'models/mnist/1.1.0/manifest.json' },
  channel: { glob: '**/models/mnist/channel.json', file: 'models/mnist/channel.json' },
  'runtime wasm': { glob: '**/pkg/cpu/burn_edge_relaxed_bg.wasm', file: 'pkg/cpu/burn_edge_relaxed_bg.wasm' },
  'runtime glue': { glob: '**/pkg/cpu/burn_edge_relaxed.js', file: 'pkg/cpu/burn_edge_relaxed.js' },
};
const genuine = new Set([stable.files[0].sha256, canary.files[0].sha256]);
const pins = JSON.parse(readFileSync('pkg/cpu/integrity.json', 'utf8')).files;

/** mulberry32: a seeded generator, so a failing mutation can be replayed with BURN_EDGE_SEED. */
function rng(s) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @type {{ url: string, stop: () => void }} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser({ webgpu: false })]);
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/** @param {import('playwright-core').Page} page @param {string} alias */
async function open(page, alias) {
  await page.goto(`${server.url}index.html?sw=0&alias=${alias}&retries=0`);
  await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 60_000 });
  return page.evaluate(() => {
    const demo = /** @type {any} */ (window).burnEdgeDemo;
    return { info: demo.handle?.info(), error: demo.error };
  });
}

/** SHA-256 of every runtime file in the page's runtime cache. @param {import('playwright-core').Page} page */
function cachedRuntime(page) {
  return page.evaluate(async () => {
    const cache = await caches.open('burn-edge-runtime-v1');
    const out = [];
    for (const req of await cache.keys()) {
      if (req.url.endsWith('integrity.json')) continue;
      const bytes = await (await cache.match(req))?.arrayBuffer();
      const hash = bytes ? [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('') : '';
      out.push({ name: req.url.split('/').pop() ?? '', sha256: hash });
    }
    return out;
  });
}

test(`${perKind} random corruptions of each fetched file are all refused and never cached (seed ${seed})`, { timeout: 1_800_000 }, async () => {
  const random = rng(seed);
  /** @type {Record<string, { tried: number, refused: number }>} */
  const tally = {};
  const failures = [];
  for (const [kind, { glob, file }] of Object.entries(KINDS)) {
    const good = readFileSync(file);
    tally[kind] = { tried: 0, refused: 0 };
    const context = await browser.newContext({ serviceWorkers: 'block' });
    try {
      const page = await context.newPage();
      // The stable version, verified and cached: what must keep serving.
      const first = await open(page, 'stable');
      assert.equal(first.error, null, `stable loads: ${JSON.stringify(first.error)}`);
      for (let i = 0; i < perKind; i++) {
        const bad = Buffer.from(good);
        const flips = 1 + Math.floor(random() * 3);
        const at = [];
        for (let f = 0; f < flips; f++) {
          const offset = Math.floor(random() * bad.length);
          bad[offset] ^= 1 + Math.floor(random() * 255);
          at.push(offset);
        }
        if (bad.equals(good)) continue;
        await page.route(glob, (route) => route.fulfill({ status: 200, body: bad }));
        // The canary is not cached yet, so every file of it is fetched (the channel and runtime always are).
        const { info, error } = await open(page, 'canary');
        await page.unrouteAll({ behavior: 'ignoreErrors' });
        tally[kind].tried++;
        // Refused: the load fails with IntegrityError, or what was verified before serves instead
        // (the cached runtime; the stable version in place of the canary).
        const kept = kind.startsWith('runtime') ? info?.runtime?.source === 'cache'
          : info?.version === '1.0.0' && info?.fallback?.reason === 'INTEGRITY';
        const refused = error?.name === 'IntegrityError' || kept;
        const cache = await loaderCache(page);
        const runtime = await cachedRuntime(page);
        const clean = cache.verified.every((h) => genuine.has(h)) &&
          runtime.every((r) => pins[r.name]?.sha256 === r.sha256) &&
          !(kind === 'weights' && cache.verified.includes(canary.files[0].sha256));
        if (refused && clean) tally[kind].refused++;
        else failures.push({ kind, at, error, version: info?.version, fallback: info?.fallback, runtime: info?.runtime?.source, cache, clean });
      }
    } finally {
      await context.close();
    }
  }
  const tried = Object.values(tally).reduce((n, t) => n + t.tried, 0);
  const refused = Object.values(tally).reduce((n, t) => n + t.refused, 0);
  report('corruption', {
    test: 'weights, runtime wasm and glue, channel and manifest corrupted at random offsets (1-3 bytes), Chromium, release key pinned',
    load: `${perKind} mutations per file kind, seed ${seed}`,
    result: `${refused} of ${tried} refused and never cached (${Object.entries(tally).map(([k, t]) => `${k} ${t.refused}/${t.tried}`).join(', ')}); the stable version kept serving`,
    pass: refused === tried && tried > 0, tally, seed,
  });
  assert.deepEqual(failures, [], 'every mutation refused, nothing mutated cached');
});
