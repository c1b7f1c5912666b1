/**
 * @module app-update
 * The demo's update offers: nothing new replaces what a page runs without the user saying so.
 *
 * - A new app shell (a changed page, script or style, or a new `sw.js`): the service worker
 *   prepares it beside the running one and the page offers "a new version of the app"; on
 *   consent the worker switches and every open page of the app reloads once. See `sw.js`.
 * - A new model release (the model's channel changed): the page offers to switch; on consent
 *   the loader re-checks the channel (verifying it as on a first load), prepares the version the
 *   channel assigns to this user in a new worker and hot-swaps it in (`model.recheck()`). The
 *   page also has the loader re-check when a hidden page becomes visible again (the user was
 *   away: nothing is in use); that swap is announced and withdraws the offer.
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {{ text: string, button: string, accept: () => Promise<void> | void } | null} */
let offered = null;

/**
 * Shows an offer in the banner (the newest one wins).
 * @param {string} text
 * @param {string} button
 * @param {() => Promise<void> | void} accept
 */
export function offer(text, button, accept) {
  offered = { text, button, accept };
  $('update-text').textContent = text;
  $('update-accept').textContent = button;
  $('update').hidden = false;
  document.body.dataset.offer = button;
}

/** Withdraws the offer if its button says `button` (e.g. a release the loader swapped in meanwhile). @param {string} button */
export function withdraw(button) {
  if (offered?.button === button) hideOffer();
}

function hideOffer() {
  offered = null;
  $('update').hidden = true;
  delete document.body.dataset.offer;
}

$('update-accept').addEventListener('click', async () => {
  const o = offered;
  hideOffer();
  await o?.accept();
});
$('update-dismiss').addEventListener('click', hideOffer);

/**
 * Registers the service worker and offers a new app shell when one is ready.
 * @returns {Promise<ServiceWorkerRegistration | null>}
 */
export async function registerShell() {
  if (!('serviceWorker' in navigator)) return null;
  /** @type {ServiceWorkerRegistration} */
  let reg;
  try {
    reg = await navigator.serviceWorker.register('./sw.js');
  } catch (err) {
    // Refused (e.g. a test blocking service workers) only means no offline reload.
    console.warn('service worker not registered:', err);
    return null;
  }
  let reloading = false;
  const reload = () => {
    if (reloading) return;
    reloading = true;
    location.reload();
  };
  const offerShell = () => offer('A new version of the app is available.', 'Reload', () => {
    if (reg.waiting) {
      // A new sw.js: it takes over on consent (every open page reloads, below).
      reg.waiting.postMessage({ type: 'skip-waiting' });
    } else {
      navigator.serviceWorker.controller?.postMessage({ type: 'apply-shell' });
    }
  });
  const hadController = navigator.serviceWorker.controller !== null;
  // A new worker took over (a user accepted it, here or in another tab): this page's code is
  // older than what it now serves, so it reloads once. The first install's claim is no update.
  navigator.serviceWorker.addEventListener('controllerchange', () => { if (hadController) reload(); });
  if (reg.waiting && hadController) offerShell();
  /** @param {ServiceWorker | null} next */
  const track = (next) => next?.addEventListener('statechange', () => {
    if (next.state === 'installed' && navigator.serviceWorker.controller) offerShell();
  });
  track(reg.installing);
  reg.addEventListener('updatefound', () => track(reg.installing));
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type === 'shell-update') offerShell();
    if (event.data?.type === 'shell-applied') reload();
  });
  // The running worker compares the shell it serves with the server's (online only).
  if (hadController) navigator.serviceWorker.controller?.postMessage({ type: 'check-shell' });
  return reg;
}

/**
 * Watches a model's channel and offers a switch when it changes (every `intervalMs`). Returns a
 * function that stops watching. When a hidden page becomes visible again the loader re-checks
 * (`recheck()`) and swaps then: the user was away; the page announces it and withdraws this offer.
 * (The page loads with `recheckInterval: 0`, under which the loader never re-checks by itself.)
 * @param {string} channelUrl
 * @param {() => import('./lib/index.js').Model | null} current
 * @param {number} intervalMs
 * @param {(message: string) => void} announce
 */
export function watchChannel(channelUrl, current, intervalMs, announce) {
  /** @type {string | null} */
  let seen = null;
  let stopped = false;
  const read = () => fetch(channelUrl, { cache: 'no-cache' }).then((r) => (r.ok ? r.text() : null), () => null);
  const check = async () => {
    const text = await read();
    if (stopped || text === null) return; // offline or refused: nothing to offer
    if (seen === null) { seen = text; return; }
    if (text === seen) return;
    seen = text;
    const model = current();
    if (!model) return;
    const name = model.info().model;
    offer(`A new release of ${name} was published.`, 'Switch', async () => {
      const before = model.info().version;
      await model.recheck();
      const now = model.info();
      if (now.version !== before) return; // the swap event announces it
      announce(now.rolloutError ? `Kept ${name} ${before}: ${now.rolloutError.message}`
        : `${name} ${before} is still the version the channel assigns to you.`);
    });
  };
  check();
  const timer = setInterval(check, intervalMs);
  const onVisible = () => { if (document.visibilityState === 'visible') current()?.recheck(); };
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
