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

/** A downloaded file's SHA-256 differs from the manifest's: the bytes were not used or cached. */
export class IntegrityError extends BurnEdgeError {
  /** @param {{ file: string, url: string, expected: string, actual: string, size: number, expectedSize: number }} details */
  constructor({ file, url, expected, actual, size, expectedSize }) {
    super(
      `${file} from ${url} failed verification: expected sha256 ${expected} (${expectedSize} bytes), ` +
        `got ${actual} (${size} bytes). The bytes were discarded, not cached; the mirror or a proxy ` +
        'serves a corrupt or tampered file: fix or remove that mirror and publish again if needed.',
      { code: 'INTEGRITY' },
    );
    this.name = 'IntegrityError';
    this.file = file;
    this.url = url;
    this.expected = expected;
    this.actual = actual;
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

/**
 * Rebuilds an error the worker reported as `{ code, message }` (the runtime's own words).
 * @param {{ code: string, message: string }} data
 * @returns {BurnEdgeError}
 */
export function revive({ code, message }) {
  if (code === 'UNSUPPORTED_ARCHITECTURE') return new UnsupportedArchitectureError(message);
  return new BurnEdgeError(message, { code });
}
