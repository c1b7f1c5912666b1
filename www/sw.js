/**
 * @module sw
 * Service worker for the app shell: same-origin GETs (the page, its scripts, `lib/`, `pkg/`)
 * go network-first with a cache fallback, so a reload works offline and an online reload
 * always gets fresh code. It never touches `/models/`: the loader caches those files itself,
 * by content hash and only after verifying them, and a second copy here would bypass that.
 */

const CACHE = 'burn-edge-shell-v1';
/** Fetched at install: the first visit is not controlled yet, so its requests never pass here. */
const PRECACHE = [
  './loader-demo.html', './loader-demo.js', './draw-pad.js', './runtime.js', './demo.css',
  './lib/index.js', './lib/worker.js', './lib/engine.js', './lib/host.js', './lib/errors.js', './lib/fetch.js',
  './lib/download.js', './lib/files.js', './lib/locate.js', './lib/store.js', './lib/storage.js',
  './lib/runtime-files.js', './lib/choose-build.js', './lib/telemetry.js', './lib/telemetry-queue.js', './lib/image.js',
  './lib/wasm-module.js', './lib/signature.js', './lib/urls.js', './pinned-key.js', './dev-key.json',
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

/** @param {Request} request */
function handled(request) {
  if (request.method !== 'GET' || request.headers.has('range')) return false;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return false;
  return !url.pathname.startsWith('/models/') && !url.pathname.startsWith('/__burn-edge/');
}

sw.addEventListener('fetch', (/** @type {FetchEvent} */ event) => {
  const { request } = event;
  if (!handled(request)) return; // the browser fetches it as if there were no service worker
  event.respondWith((async () => {
    try {
      const response = await fetch(request);
      if (response.status === 200) {
        const copy = response.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)).catch(() => {}));
      }
      return response;
    } catch (err) {
      const cache = await caches.open(CACHE);
      // Offline, any stored representation beats none: the server varies on Origin and encoding.
      const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate', ignoreVary: true });
      if (hit) return hit;
      throw err;
    }
  })());
});
