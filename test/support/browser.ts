import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Browser, Locator, chromium } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it), or CHROMIUM_PATH. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((path): path is string => !!path && existsSync(path));
  if (!found)
    throw new Error('No Chromium for the browser tests: apt-get install -y chromium (or set CHROMIUM_PATH)');
  return found;
}

/**
 * The global setup's step: without a Chromium, as root (or with passwordless sudo) on Debian, installs
 * Debian's package, so that `npm test` on a fresh machine needs nothing else. Otherwise leaves the browser
 * tests to fail with chromiumPath()'s message.
 */
export function ensureChromium(log: (line: string) => void = console.log): void {
  try {
    chromiumPath();
    return;
  } catch {
    // installed below, if this machine lets us
  }
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!(root || sudo) || spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) return;
  const run = (args: string[]) =>
    spawnSync(root ? args[0] : 'sudo', root ? args.slice(1) : ['-n', ...args], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 15 * 60_000,
    });
  log('No Chromium for the browser tests: installing Debian\'s package (apt-get install chromium)...');
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', 'chromium']);
}

/**
 * Headless Chromium as the probe of this machine starts it: without background networking (the machine's
 * closed network refuses those connections), no sandbox (tests may run as root), a fresh profile.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
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

/**
 * Where the tests' screenshots go: VIEWER_SCREENSHOTS_DIR (docs/viewer refreshes the README's pictures),
 * otherwise a temporary folder, so that a test run leaves the tree as it was.
 */
export function screenshotDirectory(): string {
  const wanted = process.env.VIEWER_SCREENSHOTS_DIR;
  const dir = wanted ? resolve(wanted) : mkdtempSync(join(tmpdir(), 'audit-viewer-shots-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Retries `check` (jest assertions on the page) until it passes or `timeoutMs` is over: pages settle. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}

/** Waits until the locator's text contains `text` (then returns the whole text). */
export const textOf = (locator: Locator, text: string | RegExp) =>
  eventually(async () => {
    const seen = await locator.innerText();
    if (typeof text === 'string') expect(seen).toContain(text);
    else expect(seen).toMatch(text);
    return seen;
  });

/** Waits until the locator matches exactly `n` elements. */
export const countOf = (locator: Locator, n: number) =>
  eventually(async () => expect(await locator.count()).toBe(n));

/** Waits until an attribute of the (single) element matches. */
export const attributeOf = (locator: Locator, name: string, value: string | RegExp) =>
  eventually(async () => expect((await locator.getAttribute(name)) ?? '').toMatch(value));

export const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: 10_000 });
