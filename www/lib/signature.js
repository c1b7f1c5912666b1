/**
 * @module signature
 * Verifies the detached Ed25519 signatures (`<file>.sig`) of channel and manifest files with
 * WebCrypto, against the public key the page pins. The signed message is the file's exact bytes
 * behind a domain separator naming the kind of file (`"burn-edge-signature-v1\n" + kind + "\n"`),
 * the same bytes `burn-edge publish` / `burn-edge sign` sign (crates/formats/src/signature.rs).
 */
import { BurnEdgeError, errorMessage, IntegrityError } from './errors.js';
import { sha256Hex } from './download.js';

/** @typedef {'channel' | 'manifest'} SignedKind */
/** @typedef {{ key: CryptoKey, keyId: string | null }} TrustKey `keyId` null: a non-extractable CryptoKey */

const DOMAIN = 'burn-edge-signature-v1';

/** @param {string} text */
function base64Bytes(text) {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * The page's pinned key, ready to verify with.
 * @param {string | CryptoKey} publicKey base64 of the raw 32-byte Ed25519 key (`burn-edge keygen`), or a CryptoKey
 * @returns {Promise<TrustKey>}
 */
export async function importPublicKey(publicKey) {
  const bad = (/** @type {string} */ why) => new BurnEdgeError(`publicKey ${why}: pass the base64 string ` +
    '`burn-edge keygen` printed (the raw 32-byte Ed25519 key), or an Ed25519 CryptoKey', { code: 'OPTIONS' });
  if (typeof publicKey !== 'string') {
    if (!(globalThis.CryptoKey && publicKey instanceof CryptoKey) || publicKey.algorithm.name !== 'Ed25519') {
      throw bad('is neither a string nor an Ed25519 CryptoKey');
    }
    const raw = publicKey.extractable ? new Uint8Array(await crypto.subtle.exportKey('raw', publicKey)) : null;
    return { key: publicKey, keyId: raw && (await sha256Hex(raw)).slice(0, 16) };
  }
  /** @type {Uint8Array} */
  let raw;
  try {
    raw = base64Bytes(publicKey.trim());
  } catch {
    throw bad('is not base64');
  }
  if (raw.length !== 32) throw bad(`is ${raw.length} bytes, not 32`);
  let key;
  try {
    key = await crypto.subtle.importKey('raw', /** @type {Uint8Array<ArrayBuffer>} */ (raw), { name: 'Ed25519' }, false, ['verify']);
  } catch (err) {
    throw new BurnEdgeError(`this browser cannot verify Ed25519 signatures (${errorMessage(err)}); ` +
      'load without publicKey only where that risk is acceptable', { code: 'UNSUPPORTED_CRYPTO', cause: err });
  }
  return { key, keyId: (await sha256Hex(raw)).slice(0, 16) };
}

/**
 * The bytes a signature of `kind` covers.
 * @param {SignedKind} kind
 * @param {Uint8Array} file
 */
export function signedMessage(kind, file) {
  const head = new TextEncoder().encode(`${DOMAIN}\n${kind}\n`);
  const message = new Uint8Array(head.length + file.length);
  message.set(head);
  message.set(file, head.length);
  return message;
}

/**
 * Throws IntegrityError unless `signatureText` (a `.sig` file, or null when there was none) is
 * the pinned key's signature of `file` as `kind`.
 * @param {TrustKey} trust
 * @param {SignedKind} kind
 * @param {Uint8Array} file the exact bytes served
 * @param {string | null} signatureText
 * @param {{ file: string, url: string }} what for the error
 */
export async function verifySignature(trust, kind, file, signatureText, what) {
  const fail = (/** @type {string} */ reason) => new IntegrityError({ ...what, reason });
  if (signatureText === null) throw fail(`the ${kind} is unsigned (no ${what.file}.sig), and this page pins a public key`);
  /** @type {any} */
  let sig;
  try {
    sig = JSON.parse(signatureText);
  } catch {
    throw fail(`its signature file is not JSON`);
  }
  if (sig?.schemaVersion !== 1 || sig.algorithm !== 'Ed25519' || typeof sig.signature !== 'string' || typeof sig.keyId !== 'string') {
    throw fail(`its signature file is not a burn-edge Ed25519 signature (schemaVersion 1)`);
  }
  if (trust.keyId && sig.keyId !== trust.keyId) {
    throw fail(`the ${kind} is signed by key ${sig.keyId}, not by the pinned key ${trust.keyId}`);
  }
  /** @type {Uint8Array} */
  let bytes;
  try {
    bytes = base64Bytes(sig.signature);
  } catch {
    throw fail('its signature is not base64');
  }
  const message = /** @type {Uint8Array<ArrayBuffer>} */ (signedMessage(kind, file));
  const ok = bytes.length === 64 &&
    await crypto.subtle.verify({ name: 'Ed25519' }, trust.key, /** @type {Uint8Array<ArrayBuffer>} */ (bytes), message);
  if (!ok) throw fail(`the ${kind}'s signature does not match its bytes (tampered, or a signature of another file)`);
}
