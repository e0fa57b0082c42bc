// Bundles the console into ../dist: one script, one stylesheet, the page. Deterministic (no
// hashes, no timestamps, no source maps), so CI can rebuild and compare with what is committed.
import { build } from "esbuild";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url);
await mkdir(dist, { recursive: true });
await build({
  entryPoints: { app: "src/main.tsx" },
  outdir: dist.pathname,
  bundle: true,
  format: "esm",
  minify: true,
  target: ["chrome120", "firefox120", "safari17"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  // Leaflet's few control images, inline: the page stays three files.
  loader: { ".png": "dataurl" },
  logLevel: "warning",
});
await copyFile("index.html", new URL("index.html", dist));
// Gzipped copies for browsers that accept them (all do): about a third of the bytes on the
// wire. zlib's gzip header carries no timestamp, so the output is as deterministic as its input.
for (const name of ["app.js", "app.css"]) {
  const file = new URL(name, dist);
  await writeFile(new URL(`${name}.gz`, dist), gzipSync(await readFile(file), { level: 9 }));
}
