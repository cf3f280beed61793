import { performance } from 'node:perf_hooks';
import { Browser, Page } from 'playwright-core';
import {
  PageTiming,
  probeScript,
  ProbeTarget,
  ResourceTiming,
  timedNavigation,
  viewerContext,
  waitFor,
} from '../lib/browser';

/** One visit of the search page: everything on the page's clock, ms since navigation start. */
export interface SearchVisit {
  /** First [role=row] in the DOM. */
  firstRowDom: number;
  /** The frame after it (rendered). */
  firstRow: number;
  loadEventEnd: number;
  /** firstRow - loadEventEnd: the target's "after the page loads". */
  afterLoad: number;
  firstPageMark: number | null;
  /** GET /audit/me and the first GET /audit/events as the browser saw them (request start, duration). */
  me: { start: number; duration: number } | null;
  events: { start: number; duration: number; transferSize: number } | null;
  /** Bytes the page transferred (document excluded), to tell a cold visit (assets fetched) from a returning one. */
  transferred: number;
}

export interface PageVisit {
  /** Frame after the target appeared (ms since navigation start), per target. */
  frame: Partial<Record<ProbeTarget, number>>;
  dom: Partial<Record<ProbeTarget, number>>;
  loadEventEnd: number;
  api: Array<{ url: string; start: number; duration: number }>;
}

const apiCalls = (timing: PageTiming, path: string) =>
  timing.resources.filter((r) => new URL(r.url).pathname.endsWith(path));

function searchVisit(timing: PageTiming): SearchVisit {
  const [me] = apiCalls(timing, '/audit/me');
  const [events] = apiCalls(timing, '/audit/events');
  const pick = (r: ResourceTiming | undefined) => (r ? { start: r.start, duration: r.duration } : null);
  return {
    firstRowDom: timing.dom.row!,
    firstRow: timing.frame.row!,
    loadEventEnd: timing.loadEventEnd,
    afterLoad: timing.frame.row! - timing.loadEventEnd,
    firstPageMark: timing.firstPageMark,
    me: pick(me),
    events: events ? { ...pick(events)!, transferSize: events.transferSize } : null,
    transferred: timing.resources.reduce((n, r) => n + r.transferSize, 0),
  };
}

/**
 * The search page in a new context (empty cache: a first visit). `returning`: the context first visits
 * the page once (its assets land in the HTTP cache, as for a reader coming back), and the second visit is
 * measured.
 */
export async function visitSearch(
  browser: Browser,
  token: string,
  url: string,
  returning = false,
): Promise<SearchVisit> {
  const context = await viewerContext(browser, token);
  try {
    await context.addInitScript({ content: probeScript(['row']) });
    const page = await context.newPage();
    if (returning) await timedNavigation(page, url, ['row']);
    return searchVisit(await timedNavigation(page, url, ['row']));
  } finally {
    await context.close();
  }
}

/** Any other page in a new context: time until each target's frame. */
export async function visitPage(
  browser: Browser,
  token: string,
  url: string,
  targets: ProbeTarget[],
): Promise<PageVisit> {
  const context = await viewerContext(browser, token);
  try {
    await context.addInitScript({ content: probeScript(targets) });
    const page = await context.newPage();
    const timing = await timedNavigation(page, url, targets);
    return {
      frame: timing.frame,
      dom: timing.dom,
      loadEventEnd: timing.loadEventEnd,
      api: timing.resources
        .filter((r) => new URL(r.url).pathname.startsWith('/audit/') && !r.url.includes('/audit/ui/'))
        .map((r) => ({ url: r.url, start: r.start, duration: r.duration })),
    };
  } finally {
    await context.close();
  }
}

export interface ApiCall<T> {
  /** Request sent to response headers, and to the whole body parsed (ms). */
  headersMs: number;
  totalMs: number;
  bytes: number;
  body: T;
}

/** The page's own API call, from Node (no browser): the server's share of the page's time. */
export async function timeApi<T>(baseUrl: string, token: string, path: string): Promise<ApiCall<T>> {
  const t0 = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    headers: { accept: 'application/json', authorization: `Bearer ${token}` },
  });
  const headersMs = performance.now() - t0;
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as T;
  return { headersMs, totalMs: performance.now() - t0, bytes: Buffer.byteLength(text), body };
}

export interface ScrollStep {
  /** Rows loaded before and after this scroll. */
  before: number;
  loaded: number;
  /** [role=row] elements in the DOM a frame after the scroll, and a frame after the next page arrived. */
  domAfterScroll: number;
  domRows: number;
  /** Scroll to the next page's rows in the DOM, and to the frame after (ms). */
  arrivedMs: number;
  ms: number;
}

export interface ScrollResult {
  steps: ScrollStep[];
  /** Rows loaded at the end, and whether the listing had more. */
  loaded: number;
  hasMore: boolean;
  /** Max [role=row] elements seen: while paging, and in a sweep over every loaded row afterwards. */
  maxDomRows: number;
  sweep: { positions: number; maxDomRows: number; minDomRows: number };
  /** All elements of the document and the JS heap (Chromium's performance.memory) at the end. */
  domElements: number;
  jsHeapBytes: number | null;
  /** The next-page requests (cursor=...) as the browser timed them. */
  pageRequests: Array<{ start: number; duration: number }>;
}

const NEXT_FRAME = `() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))`;

/** One scroll to the bottom of the grid; resolves when the next page's rows are in (or there is none). */
const SCROLL_STEP = `(async () => {
  const nextFrame = ${NEXT_FRAME};
  const grid = document.querySelector('[role=grid]');
  const rows = () => document.querySelectorAll('[role=row]').length;
  const loaded = () => Number(grid.getAttribute('data-rows-loaded'));
  const more = () => grid.getAttribute('aria-rowcount') === '-1';
  const before = loaded();
  const t0 = performance.now();
  grid.scrollTop = grid.scrollHeight;
  await nextFrame();
  const domAfterScroll = rows();
  await new Promise((resolve, reject) => {
    const done = () => loaded() > before || !more();
    if (done()) return resolve();
    const timer = setTimeout(() => { observer.disconnect(); reject(new Error('no next page within 60 s')); }, 60000);
    const observer = new MutationObserver(() => {
      if (!done()) return;
      observer.disconnect();
      clearTimeout(timer);
      resolve();
    });
    observer.observe(grid, { attributes: true, attributeFilter: ['data-rows-loaded', 'aria-rowcount'] });
  });
  const arrivedMs = performance.now() - t0;
  await nextFrame();
  return { before, loaded: loaded(), domAfterScroll, domRows: rows(), arrivedMs, ms: performance.now() - t0, hasMore: more() };
})()`;

/** Scrolls back to the top and down through every loaded row, a frame at each position: the max rows in the DOM. */
const SWEEP = `(async () => {
  const nextFrame = ${NEXT_FRAME};
  const grid = document.querySelector('[role=grid]');
  const rows = () => document.querySelectorAll('[role=row]').length;
  let max = 0, min = Infinity, positions = 0;
  for (let y = 0; y < grid.scrollHeight - grid.clientHeight; y += 1500) {
    grid.scrollTop = y;
    await nextFrame();
    const n = rows();
    max = Math.max(max, n);
    min = Math.min(min, n);
    positions++;
  }
  return { positions, maxDomRows: max, minDomRows: min };
})()`;

const PAGE_STATE = `(() => ({
  domElements: document.getElementsByTagName('*').length,
  jsHeapBytes: performance.memory ? performance.memory.usedJSHeapSize : null,
  pageRequests: performance.getEntriesByType('resource')
    .filter((r) => r.name.includes('/audit/events?') && r.name.includes('cursor='))
    .map((r) => ({ start: r.startTime, duration: r.responseEnd - r.startTime })),
}))()`;

/**
 * Infinite scroll in one context: scrolls the grid to the bottom until `targetRows` are loaded (a page of
 * 100 is fetched when the last rendered row nears the end), sampling the rows in the DOM after each scroll.
 */
export async function scrollSearch(
  browser: Browser,
  token: string,
  url: string,
  targetRows: number,
  log: (line: string) => void,
): Promise<ScrollResult> {
  const context = await viewerContext(browser, token);
  try {
    await context.addInitScript({ content: probeScript(['row']) });
    const page = await context.newPage();
    await timedNavigation(page, url, ['row']);
    const steps: ScrollStep[] = [];
    let hasMore = true;
    let loaded = 0;
    let lastLog = performance.now();
    while (hasMore && loaded < targetRows) {
      const step = (await page.evaluate(SCROLL_STEP)) as ScrollStep & { hasMore: boolean };
      hasMore = step.hasMore;
      loaded = step.loaded;
      const { hasMore: _more, ...kept } = step;
      steps.push(kept);
      if (performance.now() - lastLog > 5_000) {
        lastLog = performance.now();
        log(`  scroll: ${loaded} rows loaded, ${step.domRows} in the DOM`);
      }
    }
    const sweep = (await page.evaluate(SWEEP)) as ScrollResult['sweep'];
    const state = (await page.evaluate(PAGE_STATE)) as Pick<
      ScrollResult,
      'domElements' | 'jsHeapBytes' | 'pageRequests'
    >;
    const maxDomRows = Math.max(...steps.map((s) => Math.max(s.domRows, s.domAfterScroll)), sweep.maxDomRows);
    return { steps, loaded, hasMore, maxDomRows, sweep, ...state };
  } finally {
    await context.close();
  }
}

/** A screenshot of the search page's first screen (rows rendered, nothing loading). */
export async function screenshotSearch(browser: Browser, token: string, url: string, path: string) {
  const context = await viewerContext(browser, token);
  try {
    await context.addInitScript({ content: probeScript(['row']) });
    const page: Page = await context.newPage();
    await timedNavigation(page, url, ['row']);
    await waitFor(page, `!document.querySelector('.table-foot')?.textContent?.includes('Loading')`);
    await page.evaluate(`document.fonts.ready`);
    await page.screenshot({ path });
  } finally {
    await context.close();
  }
}
