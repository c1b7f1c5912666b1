/**
 * @module app-photo
 * The demo's photo input for image classifiers (SqueezeNet): the server's labelled sample
 * photos (`/samples/`), a file picker and a drop zone; the top-5 labels are shown as bars.
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** The sample photos `burn-edge serve` has under /samples/ (see models/squeezenet.model.json). */
export const PHOTO_SAMPLES = ['fish.png', 'kitten_224.png', 'cat.jpg', 'bridge.jpg', 'coyote.jpg', 'flamingo.jpg', 'torch.jpg'];

/**
 * Renders a top-k list as labelled bars into `list`.
 * @param {HTMLElement} list
 * @param {{ label: string, probability: number }[]} top
 */
export function renderTop(list, top) {
  list.replaceChildren(...top.map(({ label, probability }) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label;
    const pct = document.createElement('span');
    pct.textContent = `${(probability * 100).toFixed(1)}%`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('span');
    fill.style.width = `${Math.max(0.5, probability * 100)}%`;
    bar.append(fill);
    li.append(name, pct, bar);
    return li;
  }));
}

/** A file refused before it was drawn: the photo shown and its result are unchanged. */
class NotAnImageError extends Error {
  name = 'NotAnImageError';
}

/**
 * Wires the photo controls; `classify` runs the loaded model on a blob and returns its top-5.
 * @param {(blob: Blob) => Promise<{ label: string, probability: number }[]>} classify
 * @param {(err: unknown, keepResult?: boolean) => void} showError `keepResult`: the shown photo and
 *   its result still belong together (the new file was refused before anything changed).
 */
export function attachPhoto(classify, showError) {
  const photo = /** @type {HTMLCanvasElement} */ ($('photo'));
  const select = /** @type {HTMLSelectElement} */ ($('photo-sample'));

  /** @param {Blob} blob */
  async function show(blob) {
    $('error').hidden = true;
    // Decoded into a canvas, not shown from a blob: URL (the page's CSP allows no blob:); a
    // file that is not an image leaves the shown photo and result as they were.
    /** @type {ImageBitmap} */
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob);
    } catch (err) {
      throw new NotAnImageError(`this file is not an image the browser can decode (${err instanceof Error ? err.message : err})`);
    }
    const scale = Math.min(1, 640 / Math.max(bitmap.width, bitmap.height));
    photo.width = Math.max(1, Math.round(bitmap.width * scale));
    photo.height = Math.max(1, Math.round(bitmap.height * scale));
    /** @type {CanvasRenderingContext2D} */ (photo.getContext('2d')).drawImage(bitmap, 0, 0, photo.width, photo.height);
    bitmap.close();
    photo.hidden = false;
    $('drop-hint').hidden = true;
    const top = await classify(blob);
    renderTop($('top5'), top);
    document.body.dataset.top = top[0]?.label ?? '';
    return top;
  }

  /** @param {string} url */
  async function showUrl(url) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return show(await res.blob());
  }

  /** @param {unknown} err */
  const refused = (err) => showError(err, err instanceof NotAnImageError);
  select.replaceChildren(...PHOTO_SAMPLES.map((s) => new Option(s, s)));
  select.addEventListener('change', () => showUrl(`/samples/${select.value}`).catch(refused));
  $('file').addEventListener('change', (e) => {
    const file = /** @type {HTMLInputElement} */ (e.target).files?.[0];
    if (file) show(file).catch(refused);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) show(file).catch(refused);
  });
  return { showUrl, first: () => showUrl(`/samples/${select.value || PHOTO_SAMPLES[0]}`) };
}
