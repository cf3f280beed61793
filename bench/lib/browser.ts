import { Browser, BrowserContext, chromium, Page } from 'playwright-core';

/** Debian's Chromium (apt), driven by playwright-core: no downloaded browser. */
export const CHROMIUM_PATH = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
export const VIEWPORT = { width: 1280, height: 800 };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/**
 * A fresh context (its own empty HTTP cache, storage and cookies: a first visit) whose pages find `token` in
 * session storage before any of their scripts run, as if the reader had pasted it into the sign-in form.
 */
export async function viewerContext(browser: Browser, token: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.addInitScript({
    content: `sessionStorage.setItem('audit-viewer-token', ${JSON.stringify(token)});`,
  });
  return context;
}

/** What the probe watches for: a name and a DOM test (JavaScript, evaluated in the page). */
export const PROBE_TARGETS = {
  row: `document.querySelector('[role=row]') !== null`,
  diff: `document.querySelector('table.diff') !== null`,
  eventTitle: `document.getElementById('event-title') !== null`,
  charts: `document.querySelectorAll('canvas').length >= 3`,
} as const;
export type ProbeTarget = keyof typeof PROBE_TARGETS;

/**
 * An init script (runs before the page's own scripts) that records, on the page's clock (ms since navigation
 * start), when each target first holds: `dom`, from a MutationObserver (the DOM change itself, before
 * layout and paint), and `frame`, after the next animation frame plus a task (the frame that shows it has
 * been produced). The observer disconnects once every target was seen.
 */
export function probeScript(targets: readonly ProbeTarget[]): string {
  const tests = targets.map((name) => `[${JSON.stringify(name)}, () => ${PROBE_TARGETS[name]}]`).join(',');
  return `(() => {
  const probe = { dom: {}, frame: {} };
  Object.defineProperty(window, '__auditBench', { value: probe });
  const targets = [${tests}];
  const afterFrame = (name) => requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { probe.frame[name] = performance.now(); };
    channel.port2.postMessage(0);
  });
  const check = () => {
    let pending = false;
    for (const [name, test] of targets) {
      if (name in probe.dom) continue;
      if (test()) { probe.dom[name] = performance.now(); afterFrame(name); } else pending = true;
    }
    if (!pending) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true });
})();`;
}

export interface PageTiming {
  /** ms since navigation start when each probe target appeared in the DOM, and when its frame was produced. */
  dom: Partial<Record<ProbeTarget, number>>;
  frame: Partial<Record<ProbeTarget, number>>;
  /** Navigation timing (ms since navigation start). */
  responseEnd: number;
  domContentLoaded: number;
  loadEventEnd: number;
  /** performance.mark('audit:first-page'): the search page's first page of data arrived. */
  firstPageMark: number | null;
  resources: ResourceTiming[];
}

export interface ResourceTiming {
  url: string;
  start: number;
  /** Request sent to last byte (fetch start to response end, ms). */
  duration: number;
  responseEnd: number;
  transferSize: number;
}

/** Navigates (the probe must be installed on the context) and waits until every target's frame came. */
export async function timedNavigation(
  page: Page,
  url: string,
  targets: readonly ProbeTarget[],
  timeoutMs = 60_000,
): Promise<PageTiming> {
  await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
  const seen = targets.map((t) => `(${JSON.stringify(t)} in window.__auditBench.frame)`).join(' && ');
  await waitFor(
    page,
    `window.__auditBench !== undefined && ${seen} && performance.getEntriesByType('navigation')[0].loadEventEnd > 0`,
    timeoutMs,
  );
  return readTiming(page);
}

/**
 * Polls a JavaScript condition in the page until it holds. Not page.waitForFunction: with a string it
 * evaluates it through eval in the page, which the viewer's CSP (script-src 'self') refuses; page.evaluate
 * goes through the DevTools protocol, outside the CSP. The polling delay is not in any figure: the times
 * are recorded by the page itself.
 */
export async function waitFor(
  page: Page,
  condition: string,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(`Boolean(${condition})`))) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export function readTiming(page: Page): Promise<PageTiming> {
  return page.evaluate(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const mark = performance.getEntriesByName('audit:first-page')[0];
    const probe = window.__auditBench ?? { dom: {}, frame: {} };
    return {
      dom: { ...probe.dom },
      frame: { ...probe.frame },
      responseEnd: nav.responseEnd,
      domContentLoaded: nav.domContentLoadedEventEnd,
      loadEventEnd: nav.loadEventEnd,
      firstPageMark: mark ? mark.startTime : null,
      resources: performance.getEntriesByType('resource').map((r) => ({
        url: r.name,
        start: r.startTime,
        duration: r.responseEnd - r.startTime,
        responseEnd: r.responseEnd,
        transferSize: r.transferSize,
      })),
    };
  })()`) as Promise<PageTiming>;
}
