/**
 * Debian's Chromium for browser tests, driven by playwright-core (which never downloads a
 * browser of its own). `chromiumPath` is null when none is installed; tests then skip saying so,
 * and `.ci/run` installs it so they never skip in CI.
 *
 * @example
 * describe('console', { skip: CHROMIUM_SKIP_REASON }, () => { … await launchChromium() … })
 */
import { execFileSync } from 'node:child_process'
import { type Browser, chromium } from 'playwright-core'

function findChromium(): string | null {
  const explicit = process.env.CHROMIUM_PATH?.trim()
  if (explicit) return explicit
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim()
      if (path !== '') return path
    } catch {
      // not on PATH
    }
  }
  return null
}

export const chromiumPath = findChromium()

/**
 * The skip option of the browser tests: false when Chromium is there, else the reason. Never a
 * skip under CI=true: there a missing browser is a broken install step, and the tests fail.
 */
export const CHROMIUM_SKIP_REASON: string | false =
  chromiumPath === null && process.env.CI !== 'true'
    ? 'no Chromium installed (apt-get install -y chromium, or set CHROMIUM_PATH): browser tests skipped'
    : false

/**
 * Headless, sandbox off (tests run as root), and every background connection off: this machine's
 * network is closed, and Chromium's own traffic would only fail, slowly. Playwright gives each
 * launch a fresh temporary profile (its own --user-data-dir).
 */
export function launchChromium(): Promise<Browser> {
  if (chromiumPath === null) throw new Error('no Chromium installed: .ci/run installs it with apt-get install chromium')
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
