/**
 * @module privacy
 * What telemetry may say about the user's browser, reduced before anything leaves the page: a
 * coarse browser (name and major version, never the full user-agent string), an OS family from
 * a fixed list, and text with URLs cut to origin and path (queries and fragments carry keys,
 * tokens and user data; `data:` and `blob:` URLs may carry the input itself). Pure functions,
 * so Node tests can check them.
 */

/** Brands that only pad `navigator.userAgentData.brands` (GREASE) or name the engine. */
const FILLER_BRAND = /not.?a.?brand|^chromium$/i;

/** Ordered: Edge and Opera also say Chrome; Chrome also says Safari. */
const UA_BROWSERS = /** @type {const} */ ([
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/\bOPR\/(\d+)/, 'Opera'],
  [/\bSamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\/(\d+)/, 'Firefox'],
  [/\bHeadlessChrome\/(\d+)/, 'HeadlessChrome'],
  [/\b(?:Chrome|CriOS)\/(\d+)/, 'Chrome'],
  [/\bVersion\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari\//, 'Safari'],
]);

/** OS families telemetry may name; anything else is left out. */
const OS_FAMILIES = /** @type {const} */ ([
  [/android/i, 'Android'],
  [/iphone|ipad|ipod|\bios\b/i, 'iOS'],
  [/^win|windows/i, 'Windows'],
  [/mac/i, 'macOS'],
  [/cros|chrome ?os/i, 'ChromeOS'],
  [/linux|x11/i, 'Linux'],
]);

/**
 * @typedef {{ userAgent?: string, platform?: string,
 *             userAgentData?: { brands?: { brand: string, version: string }[], platform?: string } }} NavigatorLike
 */

/**
 * Browser name and major version (`"Chrome 131"`), from User-Agent Client Hints where the
 * browser has them, else from the user-agent string; undefined when neither says.
 * @param {NavigatorLike | undefined} nav
 * @returns {string | undefined}
 */
export function coarseBrowser(nav) {
  const brands = nav?.userAgentData?.brands;
  if (Array.isArray(brands) && brands.length) {
    const named = brands.find((b) => !FILLER_BRAND.test(b.brand)) ?? brands.find((b) => /^chromium$/i.test(b.brand));
    const major = named && /^\d+/.exec(String(named.version))?.[0];
    if (named && major) return `${String(named.brand).replace(/^Google /, '').slice(0, 40)} ${major}`;
  }
  const ua = typeof nav?.userAgent === 'string' ? nav.userAgent : '';
  for (const [pattern, name] of UA_BROWSERS) {
    const major = pattern.exec(ua)?.[1];
    if (major) return `${name} ${major}`;
  }
  return undefined;
}

/**
 * The OS family (`"Linux"`, `"Windows"`, ...), or undefined; never a version or architecture.
 * @param {NavigatorLike | undefined} nav
 * @returns {string | undefined}
 */
export function osFamily(nav) {
  const ua = typeof nav?.userAgent === 'string' ? nav.userAgent : '';
  // Android's platform reads "Linux armv8l": the user agent knows better.
  for (const text of [/android/i.test(ua) ? 'Android' : '', nav?.userAgentData?.platform, nav?.platform, ua]) {
    if (!text) continue;
    const hit = OS_FAMILIES.find(([pattern]) => pattern.test(text));
    if (hit) return hit[1];
  }
  return undefined;
}

/** An absolute URL (scheme://...) up to whitespace, a quote or a closing bracket. */
const ABSOLUTE_URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>()[\]{}]+/gi;
/** `data:` URLs are the content itself. */
const DATA_URL = /\bdata:[^\s"'`<>]*/gi;
/** A relative path with a query that looks like parameters (`logs?key=...`). */
const RELATIVE_QUERY = /([\w.~%/-]*)\?[^\s"'`<>#]*=[^\s"'`<>#]*(#[^\s"'`<>]*)?/g;

/**
 * `text` with every URL cut to origin and path (user, password, query and fragment dropped),
 * `data:` URLs replaced by `<data-url>`, and queries of relative paths removed.
 * @param {string} text
 */
export function scrubUrls(text) {
  return String(text)
    .replace(DATA_URL, '<data-url>')
    .replace(ABSOLUTE_URL, (found) => {
      // Punctuation that ends a sentence is not part of the URL.
      const [, url, tail] = /^(.*?)([.,;:!?]*)$/.exec(found) ?? [found, found, ''];
      try {
        const u = new URL(url);
        if (u.origin === 'null') return `${u.protocol}<url>${tail}`;
        return `${u.origin}${u.pathname}${tail}`;
      } catch {
        return `<url>${tail}`;
      }
    })
    .replace(RELATIVE_QUERY, '$1');
}
