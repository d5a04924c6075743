import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium (.ci/run installs it), headless, for the console's browser tests: as root in
 * CI, without sandbox, and with no background traffic to a network this machine does not reach.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
