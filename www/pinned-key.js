/**
 * @module pinned-key
 * The public key the demo pages pin for `loadModel({ publicKey })`: the dev signing key's,
 * from `dev-key.json` (written by scripts/import-models.sh, gitignored; a real site pastes its
 * release key into its code instead). `?publicKey=<base64>` pins another key, `?publicKey=none`
 * loads without one (unsigned, the loader warns).
 */

/**
 * @param {URLSearchParams} params
 * @returns {Promise<string | undefined>}
 */
export async function pinnedKey(params) {
  const given = params.get('publicKey');
  if (given) return given === 'none' ? undefined : given;
  // A network failure throws (no silent downgrade to unsigned); only a missing file means "none".
  const response = await fetch(new URL('./dev-key.json', import.meta.url), { cache: 'no-cache' });
  if (response.status === 404) return undefined;
  const dev = await response.json();
  if (typeof dev?.publicKey !== 'string') throw new Error('dev-key.json has no publicKey: run scripts/import-models.sh');
  return dev.publicKey;
}
