// The npm package's shape: its entry points exist, it ships every module the loader imports,
// the hand-written types declare every export, and the service worker precaches the loader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { brotliCompressSync } from 'node:zlib';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JS_BUDGET, importsOf as moduleImports, moduleGraph, packageSizes } from '../../scripts/package-sizes.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lib = join(root, 'www/lib');
const modules = readdirSync(lib).filter((f) => f.endsWith('.js'));

/** Relative import specifiers of a module (`import … from`, `export … from`, `import('…')`). */
const importsOf = (/** @type {string} */ file) => {
  const found = moduleImports(readFileSync(file, 'utf8'));
  return [...found.static, ...found.dynamic];
};

test('package.json exports and types point at the loader', () => {
  assert.equal(pkg.exports['.'].default, './www/lib/index.js');
  assert.equal(pkg.exports['.'].types, './www/lib/index.d.ts');
  assert.equal(pkg.types, './www/lib/index.d.ts');
  for (const path of [pkg.exports['.'].default, pkg.exports['.'].types]) assert.ok(existsSync(join(root, path)), path);
});

test('the published files hold every module the loader imports', () => {
  const shipped = (/** @type {string} */ file) =>
    pkg.files.some((/** @type {string} */ f) => !relative(join(root, f), file).startsWith('..'));
  const seen = new Set();
  const queue = [join(lib, 'index.js'), join(lib, 'worker.js')];
  while (queue.length) {
    const file = /** @type {string} */ (queue.pop());
    if (seen.has(file)) continue;
    seen.add(file);
    assert.ok(existsSync(file), `${relative(root, file)} is imported but missing`);
    assert.ok(shipped(file), `${relative(root, file)} is imported but not in package.json "files"`);
    for (const spec of importsOf(file)) queue.push(resolve(dirname(file), spec));
  }
  assert.ok(pkg.files.includes('pkg/cpu') && pkg.files.includes('pkg/webgpu'), 'the runtime builds ship');
  for (const module of modules) assert.ok(seen.has(join(lib, module)), `lib/${module} is never imported`);
});

test('a page using loadModel and predict loads no optional feature: each comes by import() when used', () => {
  const core = moduleGraph([join(lib, 'index.js'), join(lib, 'worker.js')], { dynamic: false, reexports: false }).map((f) => relative(lib, f));
  for (const needed of ['index.js', 'locate.js', 'runtime-files.js', 'worker-engine.js', 'worker.js', 'host.js']) assert.ok(core.includes(needed), needed);
  for (const lazy of ['telemetry.js', 'telemetry-queue.js', 'privacy.js', 'backend-choice.js', 'route.js', 'interleave.js', 'image.js',
    // The rollout rules, the re-check watch and hot swap, the shadow/interleave engines, the
    // offline fallback, eviction, predictBatch's chunking, the install id and the inline
    // (worker: false) host. (The worker imports nothing by import(): a bundler's default worker
    // format, Vite's iife, cannot split it.)
    'assign.js', 'bucketing.js', 'select-rules.js', 'rollout-watch.js', 'pool.js', 'offline.js', 'evict.js', 'batch.js', 'identity.js',
    'engine.js']) {
    assert.ok(!core.includes(lazy), `${lazy} is loaded by every page`);
  }
  const all = moduleGraph([join(lib, 'index.js'), join(lib, 'worker.js')], { dynamic: true }).map((f) => relative(lib, f));
  assert.deepEqual(all, modules.slice().sort(), 'with import() followed, every module is reachable');
  const { js } = packageSizes(root);
  assert.deepEqual(js.core.modules, core.map((f) => `www/lib/${f}`).sort());
  // Once ready, a page with the default recheckInterval imports the re-check watch, and only it.
  assert.deepEqual(js.afterReady.modules, [...js.core.modules, 'www/lib/rollout-watch.js'].sort());
});

test('the worker loads no module by import(): a bundler\'s default worker format (Vite\'s iife) cannot split it', () => {
  for (const file of moduleGraph([join(lib, 'worker.js')], { dynamic: false })) {
    assert.deepEqual(moduleImports(readFileSync(file, 'utf8')).dynamic, [], `${relative(lib, file)} imports a module by import()`);
  }
});

test('index.d.ts declares every export of index.js', async () => {
  const dts = readFileSync(join(lib, 'index.d.ts'), 'utf8');
  const declared = new Set([...dts.matchAll(/^export (?:declare )?(?:function|class|interface|type) (\w+)/gm)].map((m) => m[1]));
  const source = readFileSync(join(lib, 'index.js'), 'utf8');
  const exported = [
    ...[...source.matchAll(/^export (?:async )?function (\w+)/gm)].map((m) => m[1]),
    ...[...source.matchAll(/^export \{([^}]+)\}/gm)].flatMap((m) => m[1].split(',').map((s) => s.trim())),
  ];
  assert.ok(exported.includes('loadModel'));
  for (const name of exported) assert.ok(declared.has(name), `${name} is exported but not declared in index.d.ts`);
});

test('the service worker precaches every loader module and leaves /models/ alone', () => {
  const sw = readFileSync(join(root, 'www/sw.js'), 'utf8');
  for (const module of modules) assert.ok(sw.includes(`'./lib/${module}'`), `sw.js does not precache lib/${module}`);
  // What it never stores (behaviour: tests/e2e/service-worker.test.mjs).
  assert.match(sw, /const NEVER = .*\bapi\|v1\|models\b/);
});

test('the package is publishable and packs only what a user needs (npm pack --dry-run)', () => {
  assert.equal(pkg.name, 'burn-edge');
  assert.equal(pkg.private, undefined, 'a private package cannot be published');
  // The runtime builds are build outputs (scripts/build-wasm.sh runs before the node tests).
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--loglevel=error'], { cwd: root, encoding: 'utf8' }));
  const files = packed.files.map((/** @type {{ path: string }} */ f) => f.path);
  for (const module of modules) assert.ok(files.includes(`www/lib/${module}`), `www/lib/${module} is not packed`);
  assert.ok(files.includes('www/lib/index.d.ts'));
  for (const build of ['cpu', 'webgpu']) {
    const pins = JSON.parse(readFileSync(join(root, `pkg/${build}/integrity.json`), 'utf8'));
    for (const name of ['integrity.json', ...Object.keys(pins.files)]) assert.ok(files.includes(`pkg/${build}/${name}`), `pkg/${build}/${name} is not packed`);
  }
  const stray = files.filter((/** @type {string} */ f) => !/^(www\/lib\/[\w-]+\.(js|d\.ts)|pkg\/(cpu|webgpu)\/[\w.-]+)$/.test(f)
    && f !== 'package.json' && f !== 'README.md');
  assert.deepEqual(stray, [], 'only the JS shell, its types and the two runtime builds');
});

test('the size report measures the JS shell against its 15 KB brotli budget', () => {
  const sizes = packageSizes(root);
  assert.equal(JS_BUDGET, 15 * 1024);
  assert.deepEqual(sizes.js.files.map((f) => f.file), modules.sort().map((m) => `www/lib/${m}`));
  const all = Buffer.concat(modules.sort().map((m) => readFileSync(join(lib, m))));
  assert.equal(sizes.js.raw, all.length);
  assert.equal(sizes.js.brotli, brotliCompressSync(all).length, 'brotli (default quality 11) of the concatenated shell');
  assert.equal(sizes.js.withinBudget, sizes.js.core.strippedBrotli <= JS_BUDGET, 'the budget is the core\'s');
  assert.equal(sizes.js.total.brotli, sizes.js.brotli);
  assert.ok(sizes.runtime.some((r) => r.file === 'pkg/webgpu/burn_edge.js'), 'the glue is measured');
});
