/**
 * @module errors
 * Typed errors of the loader. Each has a stable `code` for programs and a message that says
 * what went wrong and what to do; they survive the trip from the worker by `code`.
 */

/** Base class: every error the loader throws on purpose is one of these. */
export class BurnEdgeError extends Error {
  /**
   * @param {string} message
   * @param {{ code?: string, cause?: unknown }} [options]
   */
  constructor(message, options = {}) {
    super(message, { cause: options.cause });
    this.name = 'BurnEdgeError';
    /** Stable machine-readable reason, e.g. `'INTEGRITY'`. */
    this.code = options.code ?? 'BURN_EDGE';
  }
}

/**
 * Something the CDN sent is not what the publisher released: a file's SHA-256 or size differs
 * from the manifest's, or a channel, manifest or runtime file fails its signature or pinned
 * hash, or names a URL outside the model folder. The bytes were not used or cached.
 */
export class IntegrityError extends BurnEdgeError {
  /**
   * @param {{ file: string, url: string, expected: string, actual: string, size: number, expectedSize: number }
   *   | { file: string, url: string, reason: string }} details a hash mismatch, or another reason
   */
  constructor(details) {
    const { file, url } = details;
    super(
      'reason' in details
        ? `${file} from ${url} failed verification: ${details.reason}. It was discarded, not used or cached; ` +
          'the mirror or a proxy serves a tampered or unsigned file, or the page pins the wrong key: fix or ' +
          'remove that mirror, or sign the release with the key the page pins (burn-edge sign).'
        : `${file} from ${url} failed verification: expected sha256 ${details.expected} (${details.expectedSize} bytes), ` +
          `got ${details.actual} (${details.size} bytes). The bytes were discarded, not cached; the mirror or a proxy ` +
          'serves a corrupt or tampered file: fix or remove that mirror and publish again if needed.',
      { code: 'INTEGRITY' },
    );
    this.name = 'IntegrityError';
    this.file = file;
    this.url = url;
    /** @type {string | undefined} what verification expected (a hash), when it was a hash */
    this.expected = 'reason' in details ? undefined : details.expected;
    /** @type {string | undefined} */
    this.actual = 'reason' in details ? undefined : details.actual;
    /** @type {string | undefined} why, when it was not a hash mismatch */
    this.reason = 'reason' in details ? details.reason : undefined;
    /** @type {string | undefined} the model version that was wanted, when known (a refused manifest) */
    this.wanted = undefined;
  }
}

/** A refused channel: its rollout section is malformed, or names what was not published. */
export class ChannelError extends BurnEdgeError {
  /** @param {string} message */
  constructor(message) {
    super(`the channel's rollout section is invalid: ${message}; it was refused and nothing in it used ` +
      '(the last good assignment keeps serving): fix it with `burn-edge rollout`, which validates what it writes', { code: 'INVALID_CHANNEL' });
    this.name = 'ChannelError';
    /** The specific reason, without the advice. */
    this.reason = message;
  }
}

/** Every mirror failed for one resource (after retries). */
export class NetworkError extends BurnEdgeError {
  /** @param {{ what: string, mirrors: string[], attempts: string[], lastStatus?: number }} details */
  constructor({ what, mirrors, attempts, lastStatus }) {
    super(
      `could not fetch ${what} from any mirror (${mirrors.join(', ')}); ` +
        `attempts: ${attempts.slice(-6).join('; ')}. ` +
        'Check the network and the channel/manifest URL, or add a working mirror.',
      { code: 'NETWORK' },
    );
    this.name = 'NetworkError';
    this.mirrors = mirrors;
    this.attempts = attempts;
    /** Last HTTP status seen, undefined when no mirror answered at all. */
    this.lastStatus = lastStatus;
  }
}

/** The runtime cannot run this model: unknown architecture or a newer minRuntimeVersion. */
export class UnsupportedArchitectureError extends BurnEdgeError {
  /** @param {string} message the runtime's own reason */
  constructor(message) {
    super(`${message}. Upgrade the burn-edge package, or load a model version this runtime supports.`, {
      code: 'UNSUPPORTED_ARCHITECTURE',
    });
    this.name = 'UnsupportedArchitectureError';
  }
}

/** The download would not fit in this origin's storage quota. */
export class QuotaError extends BurnEdgeError {
  /** @param {{ needed: number, available: number }} details bytes */
  constructor({ needed, available }) {
    super(
      `the model needs ${needed} bytes of storage but only ${available} are available to this site; ` +
        'free space (clear site data or old models) or lower keepVersions, then load again.',
      { code: 'QUOTA' },
    );
    this.name = 'QuotaError';
    this.needed = needed;
    this.available = available;
  }
}

/** The cloud could not be reached or could not answer (network, timeout, 5xx, 429): the edge may serve. */
export class CloudUnavailableError extends BurnEdgeError {
  /** @param {string} message */
  constructor(message) {
    super(message, { code: 'CLOUD_UNAVAILABLE' });
    this.name = 'CloudUnavailableError';
  }
}

/** An error's message, or whatever was thrown as a string. @param {unknown} err */
export const errorMessage = (err) => (err instanceof Error ? err.message : String(err));

/**
 * Rebuilds an error the worker reported as `{ code, message }` (the runtime's own words).
 * @param {{ code: string, message: string }} data
 * @returns {BurnEdgeError}
 */
export function revive({ code, message }) {
  if (code === 'UNSUPPORTED_ARCHITECTURE') return new UnsupportedArchitectureError(message);
  return new BurnEdgeError(message, { code });
}
