import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { monthlyPartition } from '../../src/partitions/partition-naming';
import { BENCH_JWT_SECRET, ServiceProcess, startServiceProcess } from '../lib/app';
import { BenchDatabase, withBenchDatabase } from '../lib/bench-db';
import { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium, VIEWPORT } from '../lib/browser';
import { AuditHistory, HistoryOrganization } from '../lib/event-history';
import { parseFlags, withPreset } from '../lib/flags';
import { resultStamp, writeResults } from '../lib/results';
import { formatDuration } from '../query/load';
import { ApiCall, scrollSearch, screenshotSearch, timeApi, visitPage, visitSearch } from './pages';
import { figures, printReport, Rep, verdict } from './report';
import { seedHistory, waitUntilQuiet } from './seed';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The viewer's default search range (viewer/src/search-state.ts: DEFAULT_PRESET '30d'). */
const DEFAULT_RANGE_MS = 30 * DAY_MS;
const UI = '/audit/ui';
/**
 * No query cache (it needs Redis anyway): every visit runs its query. No capture: reading the trail records
 * an access event per request in the reader's organization, which after a few reps would be the newest
 * events the page lists instead of the seeded history (the write is off the request path in the buffered
 * request mode the benchmarks run). The jobs' intervals at their maximum: no stats refresh (minutes over
 * 10M events), partition tick, archive run (it would move the partitions older than 90 days) or checkpoint
 * while the seeding or the measurements run; the boot-time ones run on the empty database.
 */
const SERVICE_ENV = {
  AUDIT_CACHE_TTL_S: '0',
  AUDIT_DISABLED: 'true',
  AUDIT_STATS_REFRESH_MS: '86400000',
  AUDIT_PARTITION_INTERVAL_MS: '86400000',
  ARCHIVE_INTERVAL_MS: '604800000',
  AUDIT_CHECKPOINT_INTERVAL_MS: '86400000',
};

function readFlags() {
  const flags = parseFlags({
    events: 10_000_000,
    reps: 15,
    warmup: 2,
    quick: false,
    organizations: 200,
    actors: 10_000,
    resources: 100_000,
    months: 12,
    streams: 2,
    'max-load-minutes': 25,
    'maintenance-work-mem': '256MB',
    seed: 1,
    /** Rows to load by scrolling. */
    'scroll-rows': 5_000,
    /** The search range of the scroll test ('' = the page's default, last 30 days; e.g. 'all', '90d'). */
    'scroll-range': '',
    /** The targets: first page rendered this soon after the load event (p95), at most this many rows in the DOM. */
    'target-ms': 1000,
    'max-dom-rows': 300,
    /** Where the search page's screenshot goes ('' = docs/viewer/search-10m-events.png for 10M events, else a temp file). */
    screenshot: '',
  });
  // 300k events: the largest organization has ~2.5k in the last 30 days, so the scroll test reads all time.
  return flags.quick ? withPreset(flags, { events: 300_000, 'scroll-range': 'all' }) : flags;
}
type Flags = ReturnType<typeof readFlags>;

/** A reader of `organization` as the demo's JWT check accepts it: its first user, audit:read + audit:admin. */
function viewerToken(organization: HistoryOrganization): Promise<string> {
  return new SignJWT({ org: organization.id, roles: ['audit:read', 'audit:admin'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(organization.actors[0])
    .setIssuedAt()
    .setExpirationTime('4h')
    .sign(new TextEncoder().encode(BENCH_JWT_SECRET));
}

interface Phase {
  name: string;
  seconds: number;
  detail: string;
}

async function main(): Promise<void> {
  const flags = readFlags();
  const started = performance.now();
  const stamp = resultStamp();
  const now = new Date();
  const from = monthlyPartition(
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - flags.months + 1, 1)),
  ).from;
  const shape = {
    events: flags.events,
    organizations: flags.organizations,
    actors: flags.actors,
    resources: flags.resources,
    from,
    to: now,
  };
  const history = new AuditHistory({ ...shape, seed: flags.seed });
  const organization = history.organizations[0];
  const phases: Phase[] = [];
  const timed = async <T>(name: string, work: () => Promise<T>, detail: (result: T) => string = () => '') => {
    const t0 = performance.now();
    console.log(`${name}...`);
    // The index builds and the view refresh print nothing for minutes: a heartbeat.
    const heartbeat = setInterval(
      () => console.log(`  ${name}: ${formatDuration((performance.now() - t0) / 1000)} so far`),
      30_000,
    );
    try {
      const result = await work();
      const phase = { name, seconds: (performance.now() - t0) / 1000, detail: detail(result) };
      phases.push(phase);
      console.log(`${name}: ${formatDuration(phase.seconds)} ${phase.detail}`);
      return result;
    } finally {
      clearInterval(heartbeat);
    }
  };
  const loadBefore = loadavg();

  const outcome = await withBenchDatabase(async (db) => {
    // The service starts first, on the empty database: the migrations it runs at boot (those of dist/ when it
    // starts, which a rebuild during the long seeding may change) and its boot-time jobs are then quick, and
    // a later rebuild of dist/ does not touch the running process (it holds the viewer's assets in memory).
    const service = await timed('service start', () => startService(db));
    try {
      const serviceMigrations = await db.sql
        .query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id')
        .then((r) => r.rows.map((row) => row.name));
      const seeded = await seedHistory(
        db,
        history,
        {
          events: flags.events,
          streams: flags.streams,
          maxLoadMinutes: flags['max-load-minutes'],
          maintenanceWorkMem: flags['maintenance-work-mem'],
          from,
          now,
        },
        timed,
      );
      const organizationEvents = await countOrganization(db, organization.id, now);
      console.log(
        `largest organization ${organization.id}: ${organizationEvents.total} events, ${organizationEvents.last30Days} in the last 30 days`,
      );
      await timed(
        'quiet database',
        () => waitUntilQuiet(db),
        (s) => `after ${s.toFixed(0)} s`,
      );
      const measured = await measure(db, service, flags, organization);
      return { seeded, serviceMigrations, organizationEvents, ...measured };
    } finally {
      await service.stop();
    }
  });

  const all = figures(outcome.reps, outcome.scroll);
  const result = verdict(all, outcome.scroll, flags['target-ms'], flags['max-dom-rows']);
  const totalSeconds = (performance.now() - started) / 1000;
  const { seeded, ...rest } = outcome;
  const file = writeResults(
    flags.quick ? 'viewer-quick' : 'viewer',
    {
      flags,
      shape,
      organization: { id: organization.id, share: organization.share, ...outcome.organizationEvents },
      totalSeconds,
      phases,
      loadAverageBefore: loadBefore.map((l) => Number(l.toFixed(2))),
      browser: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, viewport: VIEWPORT },
      ...seeded,
      verdict: result,
      figures: all,
      ...rest,
    },
    stamp,
  );
  printReport(all, outcome.scroll, result, {
    events: seeded.load.events,
    organizationEvents: outcome.organizationEvents.total,
    reps: flags.reps,
    warmup: flags.warmup,
  });
  console.log(`\nScreenshot: ${outcome.screenshot}`);
  console.log(`Results: ${file} (total ${formatDuration(totalSeconds)})`);
}

/** The built service; once more after 30 s if it fails to start (dist/ being rebuilt by someone else). */
async function startService(db: BenchDatabase): Promise<ServiceProcess> {
  try {
    return await startServiceProcess(db.url, SERVICE_ENV);
  } catch (error) {
    console.log(`  service did not start (${(error as Error).message.split('\n')[0]}), again in 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    return startServiceProcess(db.url, SERVICE_ENV);
  }
}

async function measure(
  db: BenchDatabase,
  service: ServiceProcess,
  flags: Flags,
  organization: HistoryOrganization,
) {
  const token = await viewerToken(organization);
  const base = service.baseUrl;
  const browser = await launchChromium();
  try {
    const browserVersion = browser.version();
    // The newest events, and the newest with a state (so the detail page has its diff table).
    const probe = await timeApi<{ items: Array<{ id: string; before: unknown; after: unknown }> }>(
      base,
      token,
      eventsPath(),
    );
    if (probe.body.items.length === 0)
      throw new Error('The largest organization has no events in the last 30 days');
    const withState =
      probe.body.items.find((e) => e.before != null || e.after != null) ?? probe.body.items[0];
    const detailUrl = `${base}${UI}/events/${encodeURIComponent(withState.id)}`;
    const searchUrl = `${base}${UI}/`;

    const reps: Rep[] = [];
    const total = flags.warmup + flags.reps;
    for (let i = 0; i < total; i++) {
      // The Node call before the browser's on even reps, after on odd ones: neither always warms the other.
      let api: ApiCall<unknown> | undefined;
      const nodeCall = async () => (api = await timeApi(base, token, eventsPath()));
      if (i % 2 === 0) await nodeCall();
      const cold = await visitSearch(browser, token, searchUrl);
      if (i % 2 === 1) await nodeCall();
      const returning = await visitSearch(browser, token, searchUrl, true);
      const detail = await visitPage(browser, token, detailUrl, ['eventTitle', 'diff']);
      const dashboard = await visitPage(browser, token, `${base}${UI}/dashboard`, ['charts']);
      const { headersMs, totalMs, bytes } = api!;
      const rep = {
        rep: i + 1,
        warmup: i < flags.warmup,
        api: { headersMs, totalMs, bytes },
        cold,
        returning,
        detail,
        dashboard,
      };
      reps.push(rep);
      console.log(
        `  rep ${i + 1}/${total}${rep.warmup ? ' (warm-up)' : ''}: search first row ${cold.firstRow.toFixed(0)} ms ` +
          `(${cold.afterLoad.toFixed(0)} after load; API in browser ${cold.events?.duration.toFixed(0) ?? '?'}, ` +
          `from Node ${totalMs.toFixed(0)}), returning ${returning.firstRow.toFixed(0)}, ` +
          `detail ${detail.frame.eventTitle?.toFixed(0)}, dashboard ${dashboard.frame.charts?.toFixed(0)}`,
      );
    }

    const scrollUrl = flags['scroll-range']
      ? `${searchUrl}?range=${encodeURIComponent(flags['scroll-range'])}`
      : searchUrl;
    console.log(`scroll: ${scrollUrl} until ${flags['scroll-rows']} rows are loaded`);
    const scroll = await scrollSearch(browser, token, scrollUrl, flags['scroll-rows'], (line) =>
      console.log(line),
    );

    const screenshot = screenshotPath(flags);
    mkdirSync(dirname(screenshot), { recursive: true });
    await screenshotSearch(browser, token, searchUrl, screenshot);
    const rows = await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM audit_events');
    return {
      browserVersion,
      service: { baseUrl: base, env: SERVICE_ENV },
      detailEvent: withState.id,
      probe: { totalMs: probe.totalMs, bytes: probe.bytes, items: probe.body.items.length },
      reps,
      scroll,
      screenshot,
      eventsAtEnd: Number(rows.rows[0].n),
      loadAverageAfter: loadavg().map((l) => Number(l.toFixed(2))),
    };
  } finally {
    await browser.close();
  }
}

/** The page's first request: GET /audit/events?from=<30 days ago>&limit=100 (viewer/src/components/use-pages.ts). */
function eventsPath(): string {
  const from = new Date(Date.now() - DEFAULT_RANGE_MS).toISOString();
  return `/audit/events?${new URLSearchParams({ from, limit: '100' })}`;
}

function screenshotPath(flags: Flags): string {
  if (flags.screenshot) return resolve(flags.screenshot);
  if (flags.events === 10_000_000 && !flags.quick)
    return join(__dirname, '..', '..', '..', 'docs', 'viewer', 'search-10m-events.png');
  return join(tmpdir(), `viewer-search-${flags.events}-events.png`);
}

async function countOrganization(db: BenchDatabase, organizationId: string, now: Date) {
  const { rows } = await db.sql.query<{ total: string; recent: string }>(
    `SELECT count(*) AS total, count(*) FILTER (WHERE occurred_at >= $2) AS recent
       FROM audit_events WHERE organization_id = $1`,
    [organizationId, new Date(now.getTime() - DEFAULT_RANGE_MS)],
  );
  return { total: Number(rows[0].total), last30Days: Number(rows[0].recent) };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
