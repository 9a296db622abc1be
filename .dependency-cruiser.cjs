// The import rules of src/ (docs/architecture.md), checked in CI by `npm run lint`.
// core is the mechanism every policy stands on: it imports no policy folder, for values or types.
// A policy reaches the client only through its descriptor (core/policy.ts) and the one list in
// src/policies.ts, so no policy folder imports the client's assembly (src/*.ts but errors.ts).
const POLICIES =
  '^src/(retry|throttle|rate-limit|breaker|concurrency|connections|endpoints|timeouts|faces|otel|redis|lab|fleet|testing)/'

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
      name: 'no-circular',
      comment: 'No import circle in src/, type-only ones included.',
      severity: 'error',
      from: { path: '^src/' },
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
