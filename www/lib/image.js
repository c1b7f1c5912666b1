/**
 * @module image
 * RGBA pixels of whatever image a page has (an `<img>`, `ImageBitmap`, canvas, `ImageData`, a
 * `Blob`/`File` from a drop), at full size: resizing, cropping and channel order are the
 * runtime's job (`prepareImage`, per the manifest's input schema), so they match the CLI and
 * the tests exactly.
 */

/**
 * @typedef {ImageData | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | Blob
 *   | { data: Uint8Array | Uint8ClampedArray, width: number, height: number }} ImageSource
 */

/**
 * @param {ImageSource} source
 * @returns {Promise<{ rgba: Uint8Array, width: number, height: number }>}
 */
export async function imagePixels(source) {
  if ('data' in source && 'width' in source && !(source instanceof Blob)) {
    const { data, width, height } = /** @type {{ data: Uint8Array | Uint8ClampedArray, width: number, height: number }} */ (source);
    return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
  }
  if (source instanceof Blob) {
    const bitmap = await createImageBitmap(source);
    try {
      return await imagePixels(bitmap);
    } finally {
      bitmap.close();
    }
  }
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement && !source.complete) {
    await source.decode();
  }
  const drawable = /** @type {CanvasImageSource & { width: number, height: number, naturalWidth?: number, naturalHeight?: number }} */ (source);
  const width = drawable.naturalWidth || drawable.width;
  const height = drawable.naturalHeight || drawable.height;
  if (!width || !height) throw new TypeError('the image has no pixels (not loaded yet, or empty)');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d', { willReadFrequently: true }));
  ctx.drawImage(drawable, 0, 0, width, height);
  const { data } = ctx.getImageData(0, 0, width, height);
  return { rgba: new Uint8Array(data.buffer), width, height };
}
