// @module wasm-sizes: prints raw / gzip / brotli sizes of every pkg/*/*.wasm and writes pkg/sizes.json.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

/** @param {number} n */
const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;
const rows = [];
// Every module: pkg/<build>/burn_edge_bg.wasm, and variants such as burn_edge_relaxed_bg.wasm.
const builds = existsSync('pkg') ? readdirSync('pkg', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [];
const modules = builds.flatMap((build) => readdirSync(`pkg/${build}`)
  .filter((f) => /^burn_edge(_\w+)?_bg\.wasm$/.test(f))
  .map((f) => ({ build: f === 'burn_edge_bg.wasm' ? build : `${build} (${f.replace(/^burn_edge_|_bg\.wasm$/g, '')})`, file: `pkg/${build}/${f}` })));
for (const { build, file } of modules) {
  const bytes = readFileSync(file);
  rows.push({
    build,
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  });
}
console.log('\n| build | raw | gzip -9 | brotli -q 11 |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.build} | ${mib(r.raw)} | ${mib(r.gzip)} | ${mib(r.brotli)} |`);
writeFileSync('pkg/sizes.json', JSON.stringify(rows, null, 2) + '\n');
