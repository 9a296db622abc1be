// The import rules of src/ and tools/ (docs/architecture.md), checked in CI by `npm run lint`.
// core is the mechanism every policy stands on: it imports no policy folder, for values or types.
// A policy reaches the client only through its descriptor (core/policy.ts) and the one list in
// src/policies.ts, so no policy folder imports the client's assembly (src/*.ts but errors.ts).
const POLICIES =
  '^src/(retry|throttle|rate-limit|breaker|concurrency|connections|endpoints|timeouts|faces|otel|redis|testing)/'

module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-policy',
      comment: 'src/core may not import a policy folder, not even for a type.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: POLICIES },
    },
    {
      name: 'folders-import-no-assembly',
      comment:
        "A policy folder may not import the client's assembly (src/client*.ts, src/policies.ts...): only errors.ts. The faces take the request options.",
      severity: 'error',
      from: {
        path: '^src/(core|retry|throttle|rate-limit|breaker|concurrency|connections|endpoints|timeouts|otel|redis)/',
      },
      to: { path: '^src/[^/]+\\.ts$', pathNot: '^src/errors\\.ts$' },
    },
    {
      name: 'tools-use-the-public-api',
      comment:
        'The lab and the fleet simulator (tools/) use the library as users do: its main entry and netiquette/testing, nothing inside src/.',
      severity: 'error',
      from: { path: '^tools/' },
      to: { path: '^src/', pathNot: '^src/(index|testing/index)\\.ts$' },
    },
    {
      name: 'library-imports-no-tools',
      comment: 'src/ is the library: it imports nothing from tools/.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^tools/' },
    },
    {
      name: 'no-circular',
      comment: 'No import circle in src/ or tools/, type-only ones included.',
      severity: 'error',
      from: { path: '^(src|tools)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
}
