/**
 * @module classify
 * The image classifier demo: loads SqueezeNet 1.1 from the model CDN with `loadModel`, then
 * shows the top-5 labels with probabilities, the backend and the latency for a sample photo
 * (served under /samples/) or a dropped/opened image. Query parameters: `backend`, `worker=0`.
 * `window.burnEdgeClassify` exposes the handle and `classify(url)` for tests.
 */
import { loadModel } from './lib/index.js';
import { pinnedKey } from './pinned-key.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const SAMPLES = ['fish.png', 'kitten_224.png', 'cat.jpg', 'bridge.jpg', 'coyote.jpg', 'flamingo.jpg', 'torch.jpg'];
const photo = /** @type {HTMLImageElement} */ ($('photo'));
const select = /** @type {HTMLSelectElement} */ ($('sample'));

/** @param {unknown} err */
function showError(err) {
  $('error').hidden = false;
  $('error').textContent = err instanceof Error ? err.message : String(err);
}

/** @param {{ label: string, probability: number }[]} top */
function render(top) {
  $('top5').replaceChildren(...top.map(({ label, probability }) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label;
    const pct = document.createElement('span');
    pct.textContent = `${(probability * 100).toFixed(1)}%`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = `${Math.max(0.5, probability * 100)}%`;
    bar.append(fill);
    li.append(name, pct, bar);
    return li;
  }));
}

const handle = await loadModel({
  publicKey: await pinnedKey(params),
  channelUrl: '/models/squeezenet/channel.json',
  backend: /** @type {any} */ (params.get('backend') ?? 'auto'),
  worker: params.get('worker') !== '0',
}).catch((err) => { showError(err); throw err; });
const info = handle.info();
const labels = handle.labels;
$('st-model').textContent = `${info.model} ${info.version} (${info.source})`;
$('st-backend').textContent = info.backend === 'cpu' ? `cpu (${info.cpuKernels} kernels, ${info.cpuSimd} wasm SIMD)` : String(info.backend);

/**
 * Classifies an image and shows the result.
 * @param {Blob} blob
 */
async function classify(blob) {
  $('error').hidden = true;
  const url = URL.createObjectURL(blob);
  // Decode off-screen first: a file that is not an image leaves the shown photo and result.
  const next = new Image();
  next.src = url;
  await next.decode();
  photo.src = url;
  photo.hidden = false;
  $('drop-hint').hidden = true;
  await photo.decode();
  const t0 = performance.now();
  const input = await handle.prepareImage(blob);
  const t1 = performance.now();
  const probs = await handle.predict(input);
  const t2 = performance.now();
  const top = [...probs].map((probability, index) => ({ index, label: labels[index] ?? String(index), probability }))
    .sort((a, b) => b.probability - a.probability).slice(0, 5);
  render(top);
  $('st-latency').textContent = `inference ${(t2 - t1).toFixed(1)} ms · decode + prepare ${(t1 - t0).toFixed(1)} ms`;
  document.body.dataset.top = top[0].label;
  return top;
}

/** @param {string} url */
async function classifyUrl(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return classify(await res.blob());
}

select.append(...SAMPLES.map((s) => new Option(s, s)));
select.addEventListener('change', () => classifyUrl(`/samples/${select.value}`).catch(showError));
$('file').addEventListener('change', (e) => {
  const file = /** @type {HTMLInputElement} */ (e.target).files?.[0];
  if (file) classify(file).catch(showError);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file) classify(file).catch(showError);
});

Object.assign(window, { burnEdgeClassify: { handle, classify: classifyUrl } });
document.body.dataset.ready = '1';
classifyUrl(`/samples/${SAMPLES[0]}`).catch(showError);
