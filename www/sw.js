/**
 * @module sw
 * The demo app's service worker: the app shell offline, and updates only on consent.
 *
 * - **The shell** (`SHELL`: the page, its scripts, styles, web app manifest, icons and the
 *   package's `lib/`) is precached as one snapshot in a cache named by the SHA-256 of its
 *   bytes (`burn-edge-shell-<hash>`) and served from it first, so a page never mixes files of
 *   two deployments (its later dynamic imports included). Other same-origin pages, scripts,
 *   styles and the sample photos go network-first into the same cache, for offline use.
 * - **Updates** never swap code under a running page. A new `sw.js` installs a new snapshot
 *   and waits; a new shell under the same `sw.js` is found when a page asks (`check-shell`:
 *   the shell is fetched again, revalidated, and hashed) and staged beside the running one.
 *   Either way the page offers "a new version of the app"; on consent (`skip-waiting` or
 *   `apply-shell`) the new snapshot becomes current, the old one is deleted and every open page
 *   of the app reloads once (`shell-applied`). See app-update.js.
 * - **The runtime and models are not stored here.** The loader keeps the runtime (`pkg/`:
 *   glue, wasm, pinned hashes) and the model files it verified in its own caches (by URL after
 *   checking the pinned hash, and by content hash), so storing them again would only double the
 *   bytes. The loader's own requests for them pass by (it falls back to its verified cache
 *   itself); offline, a module import of a `pkg/` file is answered from the loader's copy.
 * - **Never stored:** `/api/` and `/v1/` (telemetry and predictions: data, not code),
 *   `/models/` (the loader's), any request with a query string or credentials (keys ride there),
 *   `Range` requests and `no-store` responses. Pages are stored under their path alone, so a
 *   `?key=` in a page's address never reaches Cache Storage.
 */

/** The app shell, precached and hashed as one snapshot. */
const SHELL = [
  './', './index.html', './app.js', './app-panel.js', './app-photo.js', './app-update.js', './draw-pad.js', './pinned-key.js',
  './app.css', './manifest.webmanifest', './icons/icon.svg', './icons/icon-192.png', './icons/icon-512.png', './dev-key.json',
  // The default sample photo, so an image classifier has something to classify offline.
  './samples/fish.png',
  './lib/index.js', './lib/worker.js', './lib/engine.js', './lib/host.js', './lib/errors.js', './lib/fetch.js',
  './lib/download.js', './lib/files.js', './lib/locate.js', './lib/store.js', './lib/storage.js',
  './lib/runtime-files.js', './lib/choose-build.js', './lib/telemetry.js', './lib/telemetry-queue.js', './lib/telemetry-endpoints.js', './lib/image.js',
  './lib/wasm-module.js', './lib/signature.js', './lib/urls.js',
  './lib/privacy.js', './lib/worker-engine.js', './lib/assign.js', './lib/bucketing.js', './lib/select.js',
  './lib/prepare.js', './lib/model.js', './lib/rollout-watch.js', './lib/interleave.js',
  './lib/batch.js', './lib/route.js', './lib/backend-choice.js', './lib/identity.js', './lib/offline.js', './lib/pool.js',
  './lib/select-rules.js', './lib/evict.js',
];
const PREFIX = 'burn-edge-shell-';
/** Which snapshot serves and which one waits for consent. */
const STATE_CACHE = `${PREFIX}state`;
const STATE_KEY = '/__burn-edge/shell-state';

/**
 * @typedef {Event & { waitUntil(promise: Promise<unknown>): void }} ExtendableEvent
 * @typedef {ExtendableEvent & { request: Request, respondWith(response: Promise<Response>): void }} FetchEvent
 * @typedef {ExtendableEvent & { data: any }} ExtendableMessageEvent
 * @typedef {{ current: string | null, staged: string | null }} ShellState
 */

const sw = /** @type {any} */ (self);
const shellUrls = new Set(SHELL.map((path) => new URL(path, sw.location.href).href));

/** @returns {Promise<ShellState>} */
async function readState() {
  try {
    const hit = await (await caches.open(STATE_CACHE)).match(STATE_KEY);
    const s = hit ? await hit.json() : null;
    return { current: typeof s?.current === 'string' ? s.current : null, staged: typeof s?.staged === 'string' ? s.staged : null };
  } catch {
    return { current: null, staged: null };
  }
}

/** @param {ShellState} state */
async function writeState(state) {
  await (await caches.open(STATE_CACHE)).put(STATE_KEY, new Response(JSON.stringify(state), { headers: { 'content-type': 'application/json' } }));
}

/**
 * Fetches the whole shell (revalidated) and names it by its hash; null when any file could not
 * be fetched at all (offline), so a partial shell is never staged. A file the server does not
 * have (the generated dev key) is left out, the same way every time.
 * @returns {Promise<{ name: string, entries: { url: string, response: Response }[] } | null>}
 */
async function fetchShell() {
  const fetched = await Promise.all([...shellUrls].map(async (url) => {
    try {
      const response = await fetch(new Request(url, { cache: 'no-cache' }));
      return { url, response };
    } catch {
      return null;
    }
  }));
  if (fetched.some((f) => f === null)) return null;
  const ok = /** @type {{ url: string, response: Response }[]} */ (fetched).filter((f) => f.response.status === 200);
  const parts = await Promise.all(ok.map(async ({ url, response }) => {
    const bytes = new Uint8Array(await response.clone().arrayBuffer());
    return [new TextEncoder().encode(`${url}\n${bytes.length}\n`), bytes];
  }));
  const all = parts.flat();
  const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of all) { joined.set(b, at); at += b.length; }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
  const hash = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
  return { name: `${PREFIX}${hash}`, entries: ok };
}

/** @param {{ name: string, entries: { url: string, response: Response }[] }} shell */
async function storeShell(shell) {
  const cache = await caches.open(shell.name);
  await Promise.all(shell.entries.map(({ url, response }) => cache.put(url, response)));
}

/** Deletes every shell snapshot but those in `state`. @param {ShellState} state */
async function prune(state) {
  for (const name of await caches.keys()) {
    if (name.startsWith(PREFIX) && name !== STATE_CACHE && name !== state.current && name !== state.staged) await caches.delete(name);
  }
}

/** @param {unknown} message */
async function tellPages(message) {
  for (const client of await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })) client.postMessage(message);
}

sw.addEventListener('install', (/** @type {ExtendableEvent} */ event) => {
  event.waitUntil((async () => {
    const shell = await fetchShell();
    if (!shell) throw new Error('the app shell could not be fetched');
    await storeShell(shell);
    const state = await readState();
    if (!sw.registration.active) {
      // The first install: no page runs older code, so it serves at once.
      await writeState({ current: shell.name, staged: null });
      await sw.skipWaiting();
    } else {
      // An update: it waits until a page's user accepts it (or every page of the app closed).
      await writeState({ current: state.current, staged: shell.name });
    }
  })());
});

sw.addEventListener('activate', (/** @type {ExtendableEvent} */ event) => {
  event.waitUntil((async () => {
    const state = await readState();
    const now = { current: state.staged ?? state.current, staged: null };
    await writeState(now);
    await prune(now);
    await sw.clients.claim();
  })());
});

sw.addEventListener('message', (/** @type {ExtendableMessageEvent} */ event) => {
  const type = event.data?.type;
  if (type === 'skip-waiting') sw.skipWaiting();
  if (type === 'check-shell') {
    event.waitUntil((async () => {
      const state = await readState();
      const shell = await fetchShell();
      if (!shell || shell.name === state.current) return;
      if (shell.name !== state.staged) {
        await storeShell(shell);
        await writeState({ current: state.current, staged: shell.name });
        await prune({ current: state.current, staged: shell.name });
      }
      await tellPages({ type: 'shell-update' });
    })());
  }
  if (type === 'apply-shell') {
    event.waitUntil((async () => {
      const state = await readState();
      if (!state.staged) return;
      const now = { current: state.staged, staged: null };
      await writeState(now);
      await prune(now);
      await tellPages({ type: 'shell-applied' });
    })());
  }
});

/** Path segments whose responses are data or have their own cache: never stored here. */
const NEVER = /(?:^|\/)(?:api|v1|models|__burn-edge)\//;
/** The loader's runtime: answered from its cache when the network fails, never stored here. */
const RUNTIME = /^\/pkg\//;
/** What the shell is made of. */
const SHELL_FILE = /\.(?:html|js|mjs|css|json|webmanifest|svg|png|jpe?g)$/;

/**
 * The key to cache `request` under, or null when this worker leaves it alone.
 * @param {Request} request
 * @returns {Request | null}
 */
function shellKey(request) {
  if (request.method !== 'GET' || request.headers.has('range')) return null;
  if (['authorization', 'x-burn-edge-key', 'x-burn-edge-read-key'].some((h) => request.headers.has(h))) return null;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin || url.username || url.password || NEVER.test(url.pathname) || RUNTIME.test(url.pathname)) return null;
  if (request.mode === 'navigate') {
    const page = url.pathname.endsWith('/') || url.pathname.endsWith('.html');
    return page ? new Request(`${url.origin}${url.pathname}`) : null;
  }
  return url.search === '' && SHELL_FILE.test(url.pathname) ? new Request(url.href) : null;
}

/** @param {FetchEvent} event @param {Request} key */
async function answerShell(event, key) {
  const { current } = await readState();
  const cache = current ? await caches.open(current) : null;
  // The snapshot first: this page's files all come from one deployment.
  if (cache && shellUrls.has(key.url)) {
    const hit = await cache.match(key, { ignoreVary: true });
    if (hit) return hit;
  }
  try {
    const response = await fetch(event.request);
    const storable = response.status === 200 && !/no-store/i.test(response.headers.get('cache-control') ?? '');
    if (storable && cache) {
      const copy = response.clone();
      event.waitUntil(cache.put(key, copy).catch(() => {}));
    }
    return response;
  } catch (err) {
    // Offline, any stored representation beats none: the server varies on Origin and encoding.
    const hit = await cache?.match(key, { ignoreVary: true });
    if (hit) return hit;
    throw err;
  }
}

sw.addEventListener('fetch', (/** @type {FetchEvent} */ event) => {
  const { request } = event;
  const url = new URL(request.url);
  // The loader's own fetch() of the runtime (destination '') passes by: it falls back to its
  // verified cache itself and reports where the runtime came from. Only a module import of a
  // runtime file (which the loader cannot serve) is answered from that cache offline.
  if (request.method === 'GET' && request.destination !== '' && url.origin === sw.location.origin && RUNTIME.test(url.pathname) &&
    !request.headers.has('range')) {
    // The glue the loader just verified and cached is the copy to import (the network's could
    // differ); anything else network first.
    const cachedFirst = /\.js$/.test(url.pathname);
    event.respondWith((async () => {
      const hit = cachedFirst ? await caches.match(request.url, { ignoreVary: true }) : undefined;
      return hit ?? fetch(request).catch(async (err) => (await caches.match(request.url, { ignoreVary: true })) ?? Promise.reject(err));
    })());
    return;
  }
  const key = shellKey(request);
  if (!key) return; // the browser fetches it as if there were no service worker
  event.respondWith(answerShell(event, key));
});
