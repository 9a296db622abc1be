// The public API report: one file per package entry under api/, written by api-extractor from the
// built declarations. `npm run api` rewrites them after a deliberate change to the surface;
// `npm run api:check` (in CI) fails when the built surface differs from the checked-in report, so
// every change to what users can import is a visible diff in review.
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const ENTRIES: Record<string, string> = {
  netiquette: 'dist/index.d.ts',
  testing: 'dist/testing/index.d.ts',
  otel: 'dist/otel/index.d.ts',
  redis: 'dist/redis/index.d.ts',
  fleet: 'dist/fleet/index.d.ts',
}
const check = process.argv.includes('--check')
let changed = 0

for (const [name, entry] of Object.entries(ENTRIES)) {
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: `<projectFolder>/${entry}`,
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'es2023',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            lib: ['es2023', 'dom'],
            types: ['node'],
            skipLibCheck: true,
            strict: true,
          },
          include: ['dist'],
        },
      },
      apiReport: {
        enabled: true,
        reportFolder: '<projectFolder>/api/',
        reportTempFolder: '<projectFolder>/node_modules/.cache/api-report/',
        reportFileName: `${name}.api.md`,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // Findings (an unexported type a public one names) go into the report, where review sees
        // them, rather than failing the build.
        extractorMessageReporting: {
          default: { logLevel: ExtractorLogLevel.None, addToApiReportFile: true },
          // The package uses no release tags (@public, @beta): everything exported is public.
          'ae-missing-release-tag': { logLevel: ExtractorLogLevel.None, addToApiReportFile: false },
          // TypeDoc checks the documentation; listed here with the bundle's chunk names and
          // lines, every edit of a comment would change the report.
          'ae-undocumented': { logLevel: ExtractorLogLevel.None, addToApiReportFile: false },
        },
        tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: `${root}package.json`,
  })
  const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false })
  if (result.apiReportChanged) {
    changed++
    console.error(
      check
        ? `api/${name}.api.md: the built API differs from the report; run \`npm run api\` and review the diff`
        : `api/${name}.api.md: updated`,
    )
  }
  if (!result.succeeded && !result.apiReportChanged) process.exitCode = 1
}
if (check && changed > 0) process.exitCode = 1
