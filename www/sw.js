/**
 * @module sw
 * Service worker for the app shell, and only for it: the pages (`*.html`, `/`), their scripts
 * and styles, `lib/` and `pkg/` (`.js`, `.mjs`, `.css`, `.wasm`, and `.json` such as the pinned dev key) go network-first with a cache
 * fallback, so a reload works offline and an online reload always gets fresh code. Everything
 * else passes by untouched: `/api/` and `/v1/` (telemetry summary and ingest: data, not code),
 * `/models/` (the loader caches those itself, by content hash and only after verifying them),
 * any request with a query string or credentials (keys ride there), `Range` requests and
 * responses marked `no-store`. Pages are stored under their path alone, so a `?key=` in a
 * page's address never reaches Cache Storage.
 */

// v2: v1 also stored API answers and keyed URLs; activating this version deletes it.
const CACHE = 'burn-edge-shell-v2';
/** Fetched at install: the first visit is not controlled yet, so its requests never pass here. */
const PRECACHE = [
  './loader-demo.html', './loader-demo.js', './draw-pad.js', './runtime.js', './demo.css',
  './lib/index.js', './lib/worker.js', './lib/engine.js', './lib/host.js', './lib/errors.js', './lib/fetch.js',
  './lib/download.js', './lib/files.js', './lib/locate.js', './lib/store.js', './lib/storage.js',
  './lib/runtime-files.js', './lib/choose-build.js', './lib/telemetry.js', './lib/telemetry-queue.js', './lib/image.js',
  './lib/wasm-module.js', './lib/signature.js', './lib/urls.js', './pinned-key.js', './dev-key.json',
  './lib/privacy.js', './lib/worker-engine.js', './lib/assign.js', './lib/bucketing.js', './lib/select.js',
  './lib/prepare.js', './lib/model.js', './lib/rollout-watch.js', './lib/interleave.js',
  './lib/batch.js', './lib/route.js', './lib/backend-choice.js',
];

/**
 * @typedef {Event & { waitUntil(promise: Promise<unknown>): void }} ExtendableEvent
 * @typedef {ExtendableEvent & { request: Request, respondWith(response: Promise<Response>): void }} FetchEvent
 */

const sw = /** @type {any} */ (self);

sw.addEventListener('install', (/** @type {ExtendableEvent} */ event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // One missing file must not stop the rest from being cached.
    await Promise.all(PRECACHE.map((path) => cache.add(new Request(path, { cache: 'no-cache' })).catch(() => {})));
    await sw.skipWaiting();
  })());
});

sw.addEventListener('activate', (/** @type {ExtendableEvent} */ event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('burn-edge-shell-') && name !== CACHE) await caches.delete(name);
    }
    await sw.clients.claim();
  })());
});

/** Path segments whose responses are data or have their own cache: never stored here. */
const NEVER = /(?:^|\/)(?:api|v1|models|__burn-edge|samples)\//;
/** What the shell is made of. */
const SHELL_FILE = /\.(?:html|js|mjs|css|wasm|json)$/;

/**
 * The key to cache `request` under, or null when this worker leaves it alone.
 * @param {Request} request
 * @returns {Request | null}
 */
function shellKey(request) {
  if (request.method !== 'GET' || request.headers.has('range')) return null;
  if (['authorization', 'x-burn-edge-key', 'x-burn-edge-read-key'].some((h) => request.headers.has(h))) return null;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin || url.username || url.password || NEVER.test(url.pathname)) return null;
  if (request.mode === 'navigate') {
    const page = url.pathname.endsWith('/') || url.pathname.endsWith('.html');
    return page ? new Request(`${url.origin}${url.pathname}`) : null;
  }
  return url.search === '' && SHELL_FILE.test(url.pathname) ? new Request(url.href) : null;
}

sw.addEventListener('fetch', (/** @type {FetchEvent} */ event) => {
  const { request } = event;
  const key = shellKey(request);
  if (!key) return; // the browser fetches it as if there were no service worker
  event.respondWith((async () => {
    try {
      const response = await fetch(request);
      const storable = response.status === 200 && !/no-store/i.test(response.headers.get('cache-control') ?? '');
      if (storable) {
        const copy = response.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)).catch(() => {}));
      }
      return response;
    } catch (err) {
      const cache = await caches.open(CACHE);
      // Offline, any stored representation beats none: the server varies on Origin and encoding.
      const hit = await cache.match(key, { ignoreVary: true });
      if (hit) return hit;
      throw err;
    }
  })());
});
