import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    alias: {
      // Examples import the package by name, as users do; tests run them against the source.
      'netiquette/testing': fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      netiquette: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests open real loopback sockets; a busy 2-core CI box needs headroom.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
