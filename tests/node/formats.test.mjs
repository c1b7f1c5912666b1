// The committed CDN files against the JSON Schemas generated from the Rust types, and the
// fields the JS loader reads against those schemas' `required` lists, so Rust and JS stay in step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (/** @type {string} */ path) => readFileSync(join(root, path), 'utf8');
const json = (/** @type {string} */ path) => JSON.parse(read(path));

const schemas = {
  channel: json('crates/formats/schemas/channel.schema.json'),
  manifest: json('crates/formats/schemas/manifest.schema.json'),
};
// The schemas carry `format: uint32/uint64/double` annotations from schemars; ajv only needs
// to know they are annotations, not to check them.
const ajv = new Ajv2020({ allErrors: true, strict: true, formats: Object.fromEntries(['uint32', 'uint64', 'double', 'float'].map((f) => [f, true])) });
const validate = { channel: ajv.compile(schemas.channel), manifest: ajv.compile(schemas.manifest) };

const models = readdirSync(join(root, 'models')).filter((m) => existsSync(join(root, 'models', m, 'channel.json')));
const manifests = models.flatMap((m) => readdirSync(join(root, 'models', m))
  .filter((v) => existsSync(join(root, 'models', m, v, 'manifest.json')))
  .map((v) => `models/${m}/${v}/manifest.json`));

test('the CDN layout has at least one model with a channel and a manifest', () => {
  assert.ok(models.length > 0, 'no models/*/channel.json');
  assert.ok(manifests.length > 0, 'no models/*/*/manifest.json');
});

for (const model of models) {
  test(`models/${model}/channel.json matches channel.schema.json and points at published manifests`, () => {
    const channel = json(`models/${model}/channel.json`);
    assert.ok(validate.channel(channel), ajv.errorsText(validate.channel.errors));
    assert.equal(channel.name, model);
    for (const [alias, version] of Object.entries(channel.aliases)) {
      assert.ok(channel.versions.includes(version), `alias ${alias} -> ${version} is not in versions`);
      assert.ok(existsSync(join(root, 'models', model, version, 'manifest.json')), `${alias} -> ${version} has no manifest`);
    }
  });
}

for (const path of manifests) {
  test(`${path} matches manifest.schema.json and its files are the bytes it names`, () => {
    const manifest = json(path);
    assert.ok(validate.manifest(manifest), ajv.errorsText(validate.manifest.errors));
    assert.equal(path, `models/${manifest.name}/${manifest.version}/manifest.json`);
    for (const file of manifest.files) {
      // Paths are relative to the manifest's URL, which on disk is its folder.
      const onDisk = join(root, dirname(path), file.path);
      assert.ok(existsSync(onDisk), `${file.path} is missing`);
      assert.equal(statSync(onDisk).size, file.size, `${file.path} size`);
      assert.equal(createHash('sha256').update(readFileSync(onDisk)).digest('hex'), file.sha256, `${file.path} sha256`);
    }
  });
}

test('the validators reject what the Rust types would refuse', () => {
  const manifest = json(manifests[0]);
  delete manifest.architecture;
  assert.equal(validate.manifest(manifest), false);
  const channel = { ...json(`models/${models[0]}/channel.json`), schemaVersion: -1 };
  assert.equal(validate.channel(channel), false);
});

test('a schemaVersion 2 channel with a rollout section validates; a typo in an arm does not', () => {
  // The same two files crates/formats reads in its tests: accepted there, refused there.
  const good = json('tests/fixtures/channel-rollout.json');
  assert.ok(validate.channel(good), ajv.errorsText(validate.channel.errors));
  assert.equal(good.schemaVersion, 2);
  assert.equal(validate.channel(json('tests/fixtures/channel-rollout-refused.json')), false);
  assert.match(ajv.errorsText(validate.channel.errors), /additional properties/);
  const rules = schemas.channel.$defs.Rule;
  for (const field of ['key', 'kind', 'alias', 'arms']) assert.ok(rules.required.includes(field), `Rule.${field} is not required`);
  assert.equal(rules.additionalProperties, false);
  assert.equal(rules.properties.kind.$ref, '#/$defs/RuleKind');
  assert.deepEqual(schemas.channel.$defs.RuleKind.oneOf.map((/** @type {{const: string}} */ k) => k.const), ['rollout', 'experiment']);
});

test('every field the JS loader reads is required by the schemas', () => {
  // What www/lib reads without a fallback (locate.js, index.js, files.js, download.js).
  const reads = {
    channel: ['schemaVersion', 'aliases'],
    manifest: ['name', 'version', 'architecture', 'files'],
    fileEntry: ['role', 'path', 'sha256', 'size'],
  };
  const required = {
    channel: schemas.channel.required,
    manifest: schemas.manifest.required,
    fileEntry: schemas.manifest.$defs.FileEntry.required,
  };
  for (const [kind, fields] of Object.entries(reads)) {
    for (const field of fields) {
      assert.ok(required[/** @type {keyof typeof required} */ (kind)].includes(field), `${kind}.${field} is not required by the schema`);
    }
  }
  assert.equal(schemas.manifest.properties.files.items.$ref, '#/$defs/FileEntry');
  assert.equal(schemas.manifest.$defs.FileEntry.properties.size.type, 'integer');
  // The loader accepts channel schemaVersion 1 only; every committed channel must be that.
  for (const model of models) assert.equal(json(`models/${model}/channel.json`).schemaVersion, 1);
});

test('package.json version equals the runtime crate version in Cargo.toml', () => {
  const cargo = read('Cargo.toml');
  const section = cargo.split(/^\[/m).find((s) => s.startsWith('package]'));
  const version = section?.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
  assert.ok(version, 'no version in the [package] section of Cargo.toml');
  assert.equal(json('package.json').version, version);
});
