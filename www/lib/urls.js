/**
 * @module urls
 * What the loader accepts before it builds a URL from something a CDN sent: versions must be
 * semver (a channel's `"stable": "https://evil.example/m"` never becomes a host), manifest file
 * paths must be plain relative paths (the same rule as the Rust manifest validation), and every
 * URL built must stay inside the model folder (same origin, path under the folder's).
 */

// semver.org's grammar: MAJOR.MINOR.PATCH, optional -prerelease and +build of [0-9A-Za-z-.].
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/**
 * Whether `value` is a semantic version such as `1.2.0`.
 * @param {unknown} value
 * @returns {value is string}
 */
export function isSemver(value) {
  return typeof value === 'string' && SEMVER.test(value);
}

/**
 * Whether a manifest file path (relative to `<version>/manifest.json`) is plain: at most one
 * leading `..`, then segments of letters, digits, `.`, `_`, `-` (never `.` or `..`). Refuses
 * rather than interprets `%`-escapes, schemes, backslashes, queries and absolute paths.
 * @param {unknown} path
 * @returns {path is string}
 */
export function isPlainRelativePath(path) {
  if (typeof path !== 'string') return false;
  const segments = path.split('/');
  const rest = segments[0] === '..' ? segments.slice(1) : segments;
  return rest.length > 0 && rest.every((s) => s !== '.' && s !== '..' && /^[A-Za-z0-9._-]+$/.test(s));
}

/**
 * Whether the absolute `url` lies inside `folder` (an absolute URL ending in `/`): same origin,
 * and its path starts with the folder's. Query and fragment are not allowed either.
 * @param {string} url
 * @param {string} folder
 */
export function insideFolder(url, folder) {
  let u;
  let f;
  try {
    u = new URL(url);
    f = new URL(folder);
  } catch {
    return false;
  }
  return u.origin === f.origin && f.pathname.endsWith('/') && u.pathname.startsWith(f.pathname) &&
    u.pathname.length > f.pathname.length && !u.search && !u.hash && !u.username && !u.password;
}
