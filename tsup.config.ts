import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'otel/index': 'src/otel/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  target: 'node22',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: true, // one copy of shared modules (errors, clock) for both entry points
})
