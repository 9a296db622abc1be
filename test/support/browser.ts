// Debian's chromium for the reports' browser checks; .ci/run installs it and sets CI, so there
// those checks never skip.
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const BROWSER = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * True when there is no browser and this is not CI: the browser checks skip, and say so once, so
 * that a local run does not look green for the wrong reason.
 */
export const browserMissing = !existsSync(BROWSER) && process.env.CI === undefined
if (browserMissing) {
  console.warn(
    `browser checks SKIPPED: no Chromium at ${BROWSER} (apt-get install chromium, or set CHROMIUM_PATH); CI installs it and never skips`,
  )
}

/** Headless Chromium that fetches nothing on its own (no updates, sync or QUIC probes). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: BROWSER,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
