/**
 * @module package-sizes
 * The size report of the npm package, run at the end of every build (scripts/build-wasm.sh):
 * brotli (quality 11) bytes of the JS shell: `core`, what a page using `loadModel` and
 * `predict` loads (the static import graph of index.js, re-exports it does not use left out,
 * and of worker.js: optional features come by `import()`), `afterReady`, the core and what such
 * a page imports once its model is ready (the re-check watch, `rollout-watch.js`, with the default
 * `recheckInterval`), and `total`, every www/lib/*.js;
 * each as shipped (unminified, with comments) and with comments and indentation stripped by
 * TypeScript's printer, close to what a bundler's minifier ships. Also each file, each runtime's
 * wasm-bindgen glue, and each wasm module's brotli bytes from pkg/sizes.json, which
 * scripts/wasm-sizes.mjs writes just before (brotli -q 11 of 46 MB of wasm takes a minute).
 * Prints a table, writes pkg/package-sizes.json, and says plainly whether the core is within
 * the JS shell's budget. It reports and never fails the build: the budget is a goal, not a gate.
 *
 * Usage: node scripts/package-sizes.mjs [root]   (root defaults to the working directory)
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { brotliCompressSync, constants } from 'node:zlib';

/**
 * @typedef {{ modules: string[], raw: number, brotli: number, strippedBrotli: number }} Measured
 */

/** The JS shell's budget, brotli bytes (issue #14). */
export const JS_BUDGET = 15 * 1024;

/** @param {Uint8Array} bytes */
const brotli = (bytes) => brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/**
 * A module's relative imports: `static` (`import … from`; with `reexports`, `export … from`
 * too) and `dynamic` (`import('./literal.js')`).
 * @param {string} source
 * @param {{ reexports?: boolean }} [options]
 */
export function importsOf(source, { reexports = true } = {}) {
  const keyword = reexports ? '(?:import|export)' : 'import';
  return {
    static: [...source.matchAll(new RegExp(`^${keyword}\\s[^;]*?from\\s+'(\\.[^']+)'`, 'gm'))].map((m) => m[1]),
    dynamic: [...source.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1]),
  };
}

/**
 * The files reachable from `roots` through relative imports, sorted.
 * @param {string[]} roots absolute paths
 * @param {{ dynamic: boolean, reexports?: boolean }} options `dynamic`: follow `import()` too
 */
export function moduleGraph(roots, { dynamic, reexports = true }) {
  const seen = new Set();
  const queue = [...roots];
  while (queue.length) {
    const file = /** @type {string} */ (queue.pop());
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const found = importsOf(readFileSync(file, 'utf8'), { reexports });
    for (const spec of [...found.static, ...(dynamic ? found.dynamic : [])]) queue.push(resolve(dirname(file), spec));
  }
  return [...seen].sort();
}

/** A module with its comments and indentation gone, as TypeScript prints it. @param {string} source */
const stripped = (source) => ts.transpileModule(source, { compilerOptions: { removeComments: true, target: ts.ScriptTarget.ESNext,
  module: ts.ModuleKind.ESNext } }).outputText.replace(/^\s+/gm, '');

/**
 * brotli of the files concatenated, as shipped and stripped.
 * @param {string} root
 * @param {string[]} paths absolute
 */
function measure(root, paths) {
  const sources = paths.map((p) => readFileSync(p));
  const all = Buffer.concat(sources);
  return { modules: paths.map((p) => relative(root, p)), raw: all.length, brotli: brotli(all),
    strippedBrotli: brotli(Buffer.from(sources.map((b) => stripped(b.toString('utf8'))).join('\n'))) };
}

/**
 * @param {string} root the repository (or unpacked package) root
 * @returns {{ js: { budget: number, withinBudget: boolean, raw: number, brotli: number,
 *             files: { file: string, raw: number, brotli: number }[], core: Measured, afterReady: Measured, total: Measured },
 *           runtime: { file: string, raw: number, brotli: number }[],
 *           wasm: { build: string, raw: number, brotli: number }[] }}
 */
export function packageSizes(root) {
  // Absolute paths throughout: the core's modules are concatenated in sorted order, which a
  // relative root would change (and with it the brotli size).
  const lib = join(resolve(root), 'www/lib');
  const names = readdirSync(lib).filter((f) => f.endsWith('.js')).sort();
  const sources = names.map((f) => readFileSync(join(lib, f)));
  const files = names.map((f, i) => ({ file: `www/lib/${f}`, raw: sources[i].length, brotli: brotli(sources[i]) }));
  const all = Buffer.concat(sources);
  const runtime = ['cpu', 'webgpu'].filter((b) => existsSync(join(root, 'pkg', b))).flatMap((b) =>
    readdirSync(join(root, 'pkg', b)).filter((f) => /^burn_edge\w*\.js$/.test(f)).sort().map((f) => {
      const bytes = readFileSync(join(root, 'pkg', b, f));
      return { file: `pkg/${b}/${f}`, raw: bytes.length, brotli: brotli(bytes) };
    }));
  const total = brotli(all);
  const wasmSizes = join(root, 'pkg/sizes.json');
  const wasm = existsSync(wasmSizes) ? JSON.parse(readFileSync(wasmSizes, 'utf8'))
    .map((/** @type {any} */ r) => ({ build: r.build, raw: r.raw, brotli: r.brotli })) : [];
  // The quickstart's page (no re-exports it does not import: createTelemetry) and its worker.
  const roots = [join(lib, 'index.js'), join(lib, 'worker.js')];
  const core = measure(root, moduleGraph(roots, { dynamic: false, reexports: false }));
  const afterReady = measure(root, moduleGraph([...roots, join(lib, 'rollout-watch.js')], { dynamic: false, reexports: false }));
  const everything = measure(root, names.map((f) => join(lib, f)));
  return { js: { budget: JS_BUDGET, withinBudget: core.strippedBrotli <= JS_BUDGET, raw: all.length, brotli: total, files, core,
    afterReady, total: everything }, runtime, wasm };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] ?? '.';
  const sizes = packageSizes(root);
  const kb = (/** @type {number} */ n) => `${(n / 1024).toFixed(1)} KB`;
  console.log('\n| file | raw | brotli -q 11 |\n|---|---|---|');
  for (const r of [...sizes.js.files, ...sizes.runtime]) console.log(`| ${r.file} | ${kb(r.raw)} | ${kb(r.brotli)} |`);
  for (const r of sizes.wasm) console.log(`| wasm: ${r.build} | ${kb(r.raw)} | ${kb(r.brotli)} |`);
  console.log(`| **JS shell, www/lib/*.js concatenated** | ${kb(sizes.js.raw)} | **${kb(sizes.js.brotli)}** |`);
  const { core, afterReady, total } = sizes.js;
  console.log(`\n| JS shell | modules | brotli as shipped | brotli, comments stripped |\n|---|---|---|---|`);
  console.log(`| core (loadModel + predict: page + worker) | ${core.modules.length} | ${kb(core.brotli)} | ${kb(core.strippedBrotli)} |`);
  console.log(`| core + what it imports once ready (the re-check watch) | ${afterReady.modules.length} | ${kb(afterReady.brotli)} | ` +
    `${kb(afterReady.strippedBrotli)} |`);
  console.log(`| total (every module) | ${total.modules.length} | ${kb(total.brotli)} | ${kb(total.strippedBrotli)} |`);
  console.log(`\nJS shell core: ${kb(core.strippedBrotli)} brotli stripped, budget ${kb(JS_BUDGET)}: ` +
    (sizes.js.withinBudget ? 'within budget' : `OVER budget by ${kb(core.strippedBrotli - JS_BUDGET)}`));
  if (existsSync(join(root, 'pkg'))) writeFileSync(join(root, 'pkg/package-sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
}
