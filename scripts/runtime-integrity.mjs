#!/usr/bin/env node
// Pins the runtime's hashes into the package: for every build folder under pkg/ (cpu, webgpu,
// ...), writes pkg/<build>/integrity.json with the SHA-256 and size of each wasm-bindgen glue
// (.js) and wasm module. The loader (www/lib/runtime-files.js) verifies the files it fetches
// against these before running or caching them. Run at the end of scripts/build-wasm.sh, or
// on an existing pkg/:  node scripts/runtime-integrity.mjs [pkg-dir]
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const pkg = process.argv[2] ?? 'pkg';
if (!existsSync(pkg)) {
  console.error(`runtime-integrity: ${pkg}/ does not exist: build it first (scripts/build-wasm.sh)`);
  process.exit(1);
}
let builds = 0;
for (const build of readdirSync(pkg).filter((d) => statSync(join(pkg, d)).isDirectory()).sort()) {
  const dir = join(pkg, build);
  const names = readdirSync(dir).filter((f) => /\.(js|wasm)$/.test(f) && statSync(join(dir, f)).isFile()).sort();
  if (!names.some((f) => f.endsWith('.wasm'))) continue;
  /** @type {Record<string, { sha256: string, size: number }>} */
  const files = {};
  for (const name of names) {
    const bytes = readFileSync(join(dir, name));
    files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }
  writeFileSync(join(dir, 'integrity.json'), `${JSON.stringify({ schemaVersion: 1, build, files }, null, 2)}\n`);
  console.log(`pinned ${names.length} runtime files in ${dir}/integrity.json`);
  builds++;
}
if (builds === 0) {
  console.error(`runtime-integrity: no build folder with a wasm module under ${pkg}/`);
  process.exit(1);
}
