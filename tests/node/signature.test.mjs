// Format parity of release signatures between Rust (crates/cli/src/signing.rs) and the JS
// loader (www/lib/signature.js, WebCrypto Ed25519 in Node): the committed test vector that the
// Rust tests regenerate, a folder the real CLI signs, and the shared path and version rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { importPublicKey, verifySignature } from '../../www/lib/signature.js';
import { insideFolder, isPlainRelativePath, isSemver } from '../../www/lib/urls.js';
import { cliPath } from '../e2e/harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const vector = JSON.parse(readFileSync(join(root, 'tests/fixtures/signature-vector.json'), 'utf8'));
const bytes = (/** @type {string} */ text) => new TextEncoder().encode(text);
const what = { file: 'f', url: 'u' };

test('signatures the Rust code makes verify with WebCrypto, for their kind and key only', async () => {
  const trust = await importPublicKey(vector.publicKey);
  assert.equal(trust.keyId, vector.keyId, 'key ids agree');
  for (const kind of /** @type {const} */ (['channel', 'manifest'])) {
    const { file, signature } = vector[kind];
    await verifySignature(trust, kind, bytes(file), signature, what);
    const other = kind === 'channel' ? 'manifest' : 'channel';
    await assert.rejects(verifySignature(trust, other, bytes(file), signature, what),
      { name: 'IntegrityError', message: new RegExp(`the ${other}'s signature does not match`) }, 'kind confusion');
    // A flipped bit at a spread of offsets in the file, and in the signature.
    for (let i = 0; i < file.length; i += 7) {
      const tampered = bytes(file);
      tampered[i] ^= 0x01;
      await assert.rejects(verifySignature(trust, kind, tampered, signature, what), { name: 'IntegrityError' }, `byte ${i}`);
    }
    const sig = JSON.parse(signature);
    const raw = Buffer.from(sig.signature, 'base64');
    raw[5] ^= 0x80;
    await assert.rejects(verifySignature(trust, kind, bytes(file), JSON.stringify({ ...sig, signature: raw.toString('base64') }), what),
      { name: 'IntegrityError' });
    await assert.rejects(verifySignature(trust, kind, bytes(file), null, what), { message: /is unsigned/ });
    await assert.rejects(verifySignature(await importPublicKey(vector.otherPublicKey), kind, bytes(file), signature, what),
      { name: 'IntegrityError', message: new RegExp(`signed by key ${vector.keyId}, not by the pinned key`) });
  }
  await assert.rejects(importPublicKey('AAAA'), { code: 'OPTIONS', message: /3 bytes, not 32/ });
});

test('a model folder the CLI signs verifies in JS (keygen, sign)', async (t) => {
  if (!existsSync(cliPath())) return t.skip(`${cliPath()} is not built`);
  const dir = mkdtempSync(join(tmpdir(), 'burn-edge-sign-'));
  try {
    cpSync(join(root, 'models/mnist'), join(dir, 'cdn/mnist'), { recursive: true });
    const publicKey = execFileSync(cliPath(), ['keygen', '--out', join(dir, 'keys')], { encoding: 'utf8' }).trim();
    execFileSync(cliPath(), ['sign', join(dir, 'cdn/mnist'), '--key', join(dir, 'keys/signing.key')]);
    const trust = await importPublicKey(publicKey);
    const read = (/** @type {string} */ p) => readFileSync(join(dir, 'cdn/mnist', p));
    await verifySignature(trust, 'channel', read('channel.json'), read('channel.json.sig').toString(), what);
    for (const version of JSON.parse(read('channel.json').toString()).versions) {
      const manifest = `${version}/manifest.json`;
      await verifySignature(trust, 'manifest', read(manifest), read(`${manifest}.sig`).toString(), what);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('signature files match signature.schema.json (the vector and every .sig under models/)', () => {
  const schema = JSON.parse(readFileSync(join(root, 'crates/formats/schemas/signature.schema.json'), 'utf8'));
  const validate = new Ajv2020({ allErrors: true, strict: true, formats: { uint32: true } }).compile(schema);
  const files = [vector.channel.signature, vector.manifest.signature];
  for (const model of ['mnist', 'squeezenet']) {
    const sig = join(root, 'models', model, 'channel.json.sig');
    if (existsSync(sig)) files.push(readFileSync(sig, 'utf8'));
  }
  for (const text of files) assert.ok(validate(JSON.parse(text)), new Ajv2020().errorsText(validate.errors));
  assert.ok(!validate({ ...JSON.parse(files[0]), algorithm: 7 }), 'the schema is not vacuous');
});

test('the loader accepts exactly the file paths and versions the Rust validation accepts', () => {
  for (const { path, plain } of vector.paths) {
    assert.equal(isPlainRelativePath(path), plain, JSON.stringify(path));
  }
  for (const { version, semver } of vector.versions) assert.equal(isSemver(version), semver, version);
  const folder = 'https://cdn.example/models/mnist/';
  assert.ok(insideFolder(`${folder}files/a.bpk`, folder));
  for (const url of ['https://evil.example/models/mnist/files/a.bpk', 'https://cdn.example/models/other/a.bpk',
    'https://cdn.example/models/mnist', `${folder}a.bpk?x=1`, 'not a url']) {
    assert.equal(insideFolder(url, folder), false, url);
  }
  // WHATWG URLs decode %2e%2e as "..": the folder check catches what the path rule lets through.
  assert.equal(insideFolder(new URL('../%2e%2e/x', `${folder}1.0.0/manifest.json`).href, folder), false);
});
