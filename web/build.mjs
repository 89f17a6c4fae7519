// build.mjs: builds the web client into dist/ (what parleyd serves).
//  1. generates TypeScript from ../proto/parley.proto (protoc + protoc-gen-es) into src/gen,
//  2. type-checks with tsc,
//  3. bundles src/main.ts with esbuild into dist/app.js (minified, no source map shipped),
//  4. bundles the RNNoise AudioWorklet (src/rnnoise_worklet.ts with the Emscripten glue of
//     @echogarden/rnnoise-wasm) into dist/rnnoise_worklet.js and copies its rnnoise.wasm and
//     licence (rnnoise-COPYING.txt) beside it: everything the page loads is same-origin,
//  5. copies static/ and writes a .gz next to each text file and the .wasm (parleyd serves it
//     to browsers that accept gzip).
// Run by `make` (via `npm run build`); needs Debian's protoc and `npm ci` first.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { gzipSync, constants } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const gen = join(here, "src", "gen");
const dist = join(here, "dist");
const proto = join(here, "..", "proto");

mkdirSync(gen, { recursive: true });
execFileSync("protoc", [
  `--plugin=protoc-gen-es=${join(here, "node_modules", ".bin", "protoc-gen-es")}`,
  `--es_out=${gen}`, "--es_opt=target=ts,import_extension=none", `-I${proto}`,
  join(proto, "parley.proto"),
], { stdio: "inherit" });

if (!process.argv.includes("--no-check")) {
  execFileSync(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", here],
    { stdio: "inherit" });
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const bundle = (entry, out, extra = {}) => esbuild.build({
  entryPoints: [join(here, "src", entry)],
  outfile: join(dist, out),
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  legalComments: "none",
  logLevel: "warning",
  ...extra,
});
await bundle("main.ts", "app.js");
await bundle("sframe_worker.ts", "sframe_worker.js");  // the group-call SFrame worker (a Worker)
// The glue's Node-only branch imports "module"; it never runs in a worklet, so leave it out.
await bundle("rnnoise_worklet.ts", "rnnoise_worklet.js", { external: ["module"] });
const rnnoise = join(here, "node_modules", "@echogarden", "rnnoise-wasm");
copyFileSync(join(rnnoise, "rnnoise.wasm"), join(dist, "rnnoise.wasm"));
copyFileSync(join(rnnoise, "COPYING"), join(dist, "rnnoise-COPYING.txt"));
for (const f of readdirSync(join(here, "static"))) copyFileSync(join(here, "static", f), join(dist, f));
for (const f of readdirSync(dist)) {
  if (!/\.(html|js|css|svg|json|txt|wasm)$/.test(f)) continue;
  const body = readFileSync(join(dist, f));
  writeFileSync(join(dist, f + ".gz"), gzipSync(body, { level: constants.Z_BEST_COMPRESSION }));
}
console.log("web client built into dist/");
