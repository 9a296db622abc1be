import { readFile, writeFile } from 'node:fs/promises'
import { defineConfig } from 'tsup'

// The library's entry points (the fleet simulator's is built from tools/); the netiquette-lab
// command is built beside them, ES module only.
const libraries = {
  index: 'src/index.ts',
  'testing/index': 'src/testing/index.ts',
  'otel/index': 'src/otel/index.ts',
  'redis/index': 'src/redis/index.ts',
  'fleet/index': 'tools/fleet/index.ts',
}

/**
 * One build, ES modules. `require('netiquette')` loads the same files (Node ≥ 22.12 can require
 * an ES module without top-level await): a second, CommonJS copy would be a second module
 * instance, whose deadline scopes and error classes the first does not see. Each `.cjs` entry is
 * a one-line shim, typed by the `.d.cts` declarations the second config emits.
 */
async function writeShims(): Promise<void> {
  for (const name of Object.keys(libraries)) {
    const file = name.slice(name.lastIndexOf('/') + 1)
    const check = name.includes('/') ? '../node-check.js' : './node-check.js'
    await writeFile(
      `dist/${name}.cjs`,
      `'use strict'\n// The ES module itself, not a copy: one module instance for require and import.\nrequire('${check}')\nmodule.exports = require('./${file}.js')\n`,
    )
    // The Node version check is the first module each entry loads: ES modules run their imports
    // in order, and undici (imported by the bundle) crashes at load on Node 20. Put on the first
    // line, so that the source map's lines stay true.
    const entry = `dist/${name}.js`
    await writeFile(entry, `import '${check}';${await readFile(entry, 'utf8')}`)
  }
}

export default defineConfig([
  {
    // the command's shebang makes it executable; node-check loads first in every entry (below)
    entry: { ...libraries, 'lab/bin': 'tools/lab/bin.ts', 'node-check': 'src/node-check.ts' },
    format: ['esm'],
    dts: { entry: libraries },
    target: 'node22',
    platform: 'node',
    sourcemap: true,
    clean: true,
    splitting: true, // one copy of shared modules (errors, clock) for every entry point
    onSuccess: writeShims,
  },
  {
    entry: libraries,
    format: ['cjs'],
    dts: { only: true },
    target: 'node22',
    platform: 'node',
  },
])
