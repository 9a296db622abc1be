import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Tests that measure real time or memory in earnest run after everything else, one at a time, so
// the rest of the suite does not share the two cores with them: the failure lab (five real-time
// scenarios whose headlines compare contenders), then the soak (a child process with 6,000 calls
// and 1,000 TLS handshakes). The suite must pass on a loaded machine; running them beside other
// test files on top of that load starved them.
const ALONE = ['test/lab/lab.test.ts', 'test/integration/soak.test.ts']

export default defineConfig({
  resolve: {
    alias: {
      // Examples import the package by name, as users do; tests run them against the source.
      'netiquette/testing': fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      'netiquette/redis': fileURLToPath(new URL('./src/redis/index.ts', import.meta.url)),
      'netiquette/fleet': fileURLToPath(new URL('./tools/fleet/index.ts', import.meta.url)),
      netiquette: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
    },
  },
  test: {
    // Integration tests open real loopback sockets; a busy 2-core CI box needs headroom.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ALONE },
      },
      ...ALONE.map((file, i) => ({
        extends: true,
        test: {
          name: file.split('/').at(-1) as string,
          include: [file],
          sequence: { groupOrder: i + 1 },
        },
      })),
    ],
  },
})
