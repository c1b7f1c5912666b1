/**
 * @module package-sizes
 * The size report of the npm package, run at the end of every build (scripts/build-wasm.sh):
 * brotli (quality 11) bytes of the JS shell (www/lib/*.js as shipped, unminified: each file and
 * all of them concatenated, which is what a page that loads the whole loader downloads) and of each
 * runtime's wasm-bindgen glue; each wasm module's brotli bytes come from pkg/sizes.json, which
 * scripts/wasm-sizes.mjs writes just before (brotli -q 11 of 46 MB of wasm takes a minute). Prints a table, writes
 * pkg/package-sizes.json, and says plainly whether the JS shell is within its budget.
 * It reports and never fails the build: the budget is a goal, not a gate.
 *
 * Usage: node scripts/package-sizes.mjs [root]   (root defaults to the working directory)
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';

/** The JS shell's budget, brotli bytes (issue #14). */
export const JS_BUDGET = 15 * 1024;

/** @param {Uint8Array} bytes */
const brotli = (bytes) => brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/**
 * @param {string} root the repository (or unpacked package) root
 * @returns {{ js: { budget: number, withinBudget: boolean, raw: number, brotli: number,
 *             files: { file: string, raw: number, brotli: number }[] },
 *           runtime: { file: string, raw: number, brotli: number }[],
 *           wasm: { build: string, raw: number, brotli: number }[] }}
 */
export function packageSizes(root) {
  const lib = join(root, 'www/lib');
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
  return { js: { budget: JS_BUDGET, withinBudget: total <= JS_BUDGET, raw: all.length, brotli: total, files }, runtime, wasm };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] ?? '.';
  const sizes = packageSizes(root);
  const kb = (/** @type {number} */ n) => `${(n / 1024).toFixed(1)} KB`;
  console.log('\n| file | raw | brotli -q 11 |\n|---|---|---|');
  for (const r of [...sizes.js.files, ...sizes.runtime]) console.log(`| ${r.file} | ${kb(r.raw)} | ${kb(r.brotli)} |`);
  for (const r of sizes.wasm) console.log(`| wasm: ${r.build} | ${kb(r.raw)} | ${kb(r.brotli)} |`);
  console.log(`| **JS shell, www/lib/*.js concatenated** | ${kb(sizes.js.raw)} | **${kb(sizes.js.brotli)}** |`);
  console.log(`\nJS shell: ${kb(sizes.js.brotli)} brotli, budget ${kb(JS_BUDGET)}: ` +
    (sizes.js.withinBudget ? 'within budget' : `OVER budget by ${kb(sizes.js.brotli - JS_BUDGET)}`));
  if (existsSync(join(root, 'pkg'))) writeFileSync(join(root, 'pkg/package-sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
}
