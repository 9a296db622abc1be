import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'otel/index': 'src/otel/index.ts',
    'lab/bin': 'src/lab/bin.ts', // the netiquette-lab command; its shebang makes it executable
  },
  format: ['esm', 'cjs'],
  // Types for the library's entry points; the command has no API.
  dts: {
    entry: {
      index: 'src/index.ts',
      'testing/index': 'src/testing/index.ts',
      'otel/index': 'src/otel/index.ts',
    },
  },
  target: 'node22',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: true, // one copy of shared modules (errors, clock) for both entry points
})
