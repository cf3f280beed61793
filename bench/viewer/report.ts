import { percentile } from '../lib/stats';
import { printTable } from '../lib/table';
import { PageVisit, ScrollResult, SearchVisit } from './pages';

export interface Rep {
  rep: number;
  warmup: boolean;
  /** GET /audit/events?limit=100&from=<30 days ago> from Node: headers and whole body (ms), body bytes. */
  api: { headersMs: number; totalMs: number; bytes: number };
  cold: SearchVisit;
  returning: SearchVisit;
  detail: PageVisit;
  dashboard: PageVisit;
}

export interface Figure {
  name: string;
  /** The measured reps (warm-up excluded). */
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
  /** The very first rep (first warm-up: browser, service and database caches cold). */
  first: number | null;
}

type Extract = (rep: Rep) => number | null | undefined;

const FIGURES: Array<[string, Extract]> = [
  ['search, new context: first row rendered (from navigation start)', (r) => r.cold.firstRow],
  ['search, new context: first row in the DOM', (r) => r.cold.firstRowDom],
  ['search, new context: load event end', (r) => r.cold.loadEventEnd],
  ['search, new context: first row after the load event  [target < 1000]', (r) => r.cold.afterLoad],
  ["search, new context: mark 'audit:first-page'", (r) => r.cold.firstPageMark],
  ['search, new context: GET /audit/me sent (app started)', (r) => r.cold.me?.start],
  ['search, new context: GET /audit/me in the browser', (r) => r.cold.me?.duration],
  ['search, new context: GET /audit/events sent', (r) => r.cold.events?.start],
  ['search, new context: GET /audit/events in the browser', (r) => r.cold.events?.duration],
  ['search, returning (assets cached): first row rendered', (r) => r.returning.firstRow],
  ['search, returning (assets cached): first row after load event', (r) => r.returning.afterLoad],
  ['API from Node: GET /audit/events limit=100, headers', (r) => r.api.headersMs],
  ['API from Node: GET /audit/events limit=100, whole body', (r) => r.api.totalMs],
  ['event detail: h1 rendered', (r) => r.detail.frame.eventTitle],
  ['event detail: table.diff rendered', (r) => r.detail.frame.diff],
  ['dashboard: 3 charts (canvas) rendered', (r) => r.dashboard.frame.charts],
];

export function summarizeFigure(name: string, values: number[], first: number | null): Figure {
  return {
    name,
    n: values.length,
    median: percentile(values, 50),
    p95: percentile(values, 95),
    min: values.length ? Math.min(...values) : NaN,
    max: values.length ? Math.max(...values) : NaN,
    first,
  };
}

const known = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

export function figures(reps: Rep[], scroll: ScrollResult): Figure[] {
  const measured = reps.filter((r) => !r.warmup);
  const out = FIGURES.map(([name, extract]) => {
    const first = reps.length ? extract(reps[0]) : null;
    return summarizeFigure(name, measured.map(extract).filter(known), known(first) ? first : null);
  });
  const paging = scroll.steps.filter((s) => s.loaded > s.before);
  out.push(
    summarizeFigure(
      'scroll: next page, scroll to its rows rendered',
      paging.map((s) => s.ms),
      paging[0]?.ms ?? null,
    ),
    summarizeFigure(
      'scroll: next page request in the browser',
      scroll.pageRequests.map((r) => r.duration),
      scroll.pageRequests[0]?.duration ?? null,
    ),
  );
  return out;
}

const ms = (v: number | null) => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(0));

export interface Verdict {
  firstPage: { p95: number; median: number; limitMs: number; met: boolean };
  domRows: { max: number; limit: number; loaded: number; met: boolean };
  met: boolean;
}

export function verdict(all: Figure[], scroll: ScrollResult, limitMs: number, maxRows: number): Verdict {
  const afterLoad = all.find((f) => f.name.includes('after the load event'))!;
  const firstPage = {
    p95: afterLoad.p95,
    median: afterLoad.median,
    limitMs,
    met: afterLoad.p95 < limitMs,
  };
  const domRows = {
    max: scroll.maxDomRows,
    limit: maxRows,
    loaded: scroll.loaded,
    met: scroll.maxDomRows <= maxRows,
  };
  return { firstPage, domRows, met: firstPage.met && domRows.met };
}

export function printReport(
  all: Figure[],
  scroll: ScrollResult,
  result: Verdict,
  context: { events: number; organizationEvents: number; reps: number; warmup: number },
): void {
  printTable(
    `Audit viewer, ${context.events.toLocaleString('en-US')} events (largest organization: ~${context.organizationEvents.toLocaleString('en-US')}); ` +
      `${context.reps} reps after ${context.warmup} warm-up, ms (first = the very first rep)`,
    ['measurement', 'n', 'median', 'p95', 'min', 'max', 'first'],
    all.map((f) => [f.name, String(f.n), ms(f.median), ms(f.p95), ms(f.min), ms(f.max), ms(f.first)]),
  );
  const steps = scroll.steps;
  printTable(
    'Infinite scroll (one context)',
    ['measure', 'value'],
    [
      ['rows loaded', String(scroll.loaded) + (scroll.hasMore ? '' : ' (end of the listing)')],
      ['pages fetched while scrolling', String(steps.filter((s) => s.loaded > s.before).length)],
      ['max [role=row] in the DOM (paging and sweep)', String(scroll.maxDomRows)],
      ['[role=row] in the DOM after the last page', String(steps[steps.length - 1]?.domRows ?? '-')],
      [
        `sweep over all loaded rows (${scroll.sweep.positions} positions): min-max rows`,
        `${scroll.sweep.minDomRows}-${scroll.sweep.maxDomRows}`,
      ],
      ['elements in the document at the end', String(scroll.domElements)],
      [
        'JS heap at the end',
        scroll.jsHeapBytes === null ? '-' : `${(scroll.jsHeapBytes / 1024 / 1024).toFixed(1)} MiB`,
      ],
    ],
  );
  const yes = (met: boolean) => (met ? 'MET' : 'NOT MET');
  console.log(
    `\nTarget: first page rendered < ${result.firstPage.limitMs} ms after the page loads: p95 ${ms(result.firstPage.p95)} ms, ` +
      `median ${ms(result.firstPage.median)} ms -> ${yes(result.firstPage.met)}`,
  );
  console.log(
    `Target: at most a few hundred rows in the DOM (<= ${result.domRows.limit}) with ${result.domRows.loaded} loaded: ` +
      `max ${result.domRows.max} -> ${yes(result.domRows.met)}`,
  );
}
