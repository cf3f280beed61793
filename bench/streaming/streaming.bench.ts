import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { INestApplication } from '@nestjs/common';
import { AuditService } from '../../src/audit/audit.service';
import { RecordAuditEventInput } from '../../src/audit/audit.types';
import { AuthUser } from '../../src/common/auth/auth.types';
import { DestinationsService } from '../../src/streaming/destinations.service';
import type { DestinationFormat, DestinationKind } from '../../src/streaming';
import { ServiceProcess, startInProcessApp, startServiceProcess } from '../lib/app';
import { BenchDatabase, countAuditEvents, withBenchDatabase } from '../lib/bench-db';
import { processCpuSeconds } from '../lib/cpu';
import { makeRecordInputs } from '../lib/events';
import { parseFlags, withPreset } from '../lib/flags';
import { rotated } from '../lib/interleave';
import { resultStamp, writeBenchFile, writeResults } from '../lib/results';
import { median, summarize, Summary } from '../lib/stats';
import { formatNumber, printTable } from '../lib/table';
import { streamingChartSvg } from './chart';
import {
  BenchReceiver,
  startHttpReceiver,
  startNatsReceiver,
  startS3Receiver,
  startSyslogReceiver,
} from './receivers';

/**
 * Streaming the committed trail, measured:
 * 1. events/s delivered per destination kind: a database holding N committed, sealed events (10
 *    organizations, written by AuditService.record() + flush(): the real writer, one seal per organization
 *    per COPY batch), then, per kind and rep, a new destination with `startFrom` before them (a backfill),
 *    timed from its creation until its receiver holds all N (distinct event ids). Kinds interleaved, their
 *    order rotated per rep; json for every kind, plus ocsf for one (`--ocsf`);
 * 2. the lag under a steady load: events recorded at `--rate` per second for `--duration` s over the
 *    organizations while a webhook and a NATS destination (`--lagKinds`) deliver: latency per event (arrival at the
 *    receiver - occurredAt), the admin status' lagSeconds and the audit_stream_lag_seconds gauge each second.
 *
 * The streamer runs in a service process (dist/demo/main.js, AUDIT_STREAMING=on, AUDIT_STREAMING_POLL_MS
 * `--pollMs`), its own event loop as in a deployment; this process writes the events (its app has
 * AUDIT_STREAMING=off), creates and deletes the destinations (DestinationsService, as the admin API does)
 * and runs the receivers.
 */
const KINDS = [
  'webhook',
  'splunk-hec',
  'datadog',
  'nats',
  's3',
  'syslog',
] as const satisfies readonly DestinationKind[];
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const ORGANIZATIONS = Array.from({ length: 10 }, (_, i) => `org_stream_${i}`);
const PLATFORM: AuthUser = { sub: 'bench-operator', org: null, roles: ['audit:platform'] };
/** The writer's defaults in the demo (AUDIT_FLUSH_INTERVAL_MS, AUDIT_BATCH_SIZE): they bound the lag. */
const WRITER = { flushIntervalMs: 250, batchSize: 2000 };

function readFlags() {
  const flags = parseFlags({
    events: 30_000,
    reps: 3,
    kinds: KINDS.join(','),
    /** A kind also measured with the ocsf format ('' for none). */
    ocsf: 'webhook',
    batchSize: 500,
    pollMs: 100,
    rate: 1000,
    duration: 30,
    /** The destinations delivering during the steady load. */
    lagKinds: 'webhook,nats',
    /** Seconds a delivery may take before the run counts as incomplete. */
    timeout: 120,
    skipLag: false,
    skipThroughput: false,
    quick: false,
  });
  return flags.quick ? withPreset(flags, { events: 5_000, duration: 10 }) : flags;
}
type Flags = ReturnType<typeof readFlags>;

interface Variant {
  kind: DestinationKind;
  format: DestinationFormat;
}
const label = (v: Variant) => (v.format === 'json' ? v.kind : `${v.kind} (${v.format})`);

interface DeliveryRun extends Variant {
  rep: number;
  events: number;
  expected: number;
  seconds: number;
  eventsPerSec: number;
  /** Events received more than once (at-least-once delivery); null where the receiver cannot tell. */
  duplicates: number | null;
  /** CPU of the streamer's process (user + system) per delivered event. */
  streamerCpuUsPerEvent: number | null;
  complete: boolean;
  lastError: string | null;
}

interface Bench {
  db: BenchDatabase;
  app: INestApplication;
  destinations: DestinationsService;
  streamer: ServiceProcess;
  receivers: Map<DestinationKind, BenchReceiver>;
}

async function main(): Promise<void> {
  const flags = readFlags();
  const stamp = resultStamp();
  const kinds = flags.kinds.split(',').filter(Boolean) as DestinationKind[];
  for (const kind of kinds)
    if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`--kinds: unknown kind ${kind}`);
  const variants: Variant[] = [
    ...kinds.map((kind) => ({ kind, format: 'json' as const })),
    ...(flags.ocsf ? [{ kind: flags.ocsf as DestinationKind, format: 'ocsf' as const }] : []),
  ];
  // Destination secrets are sealed by this process and opened by the streamer's: the same key in both.
  const secretKey = randomBytes(32).toString('hex');
  process.env.AUDIT_STREAMING = 'off';
  process.env.AUDIT_STREAMING_SECRET_KEY = secretKey;

  await withBenchDatabase(async (db) => {
    const app = await startInProcessApp(db.url);
    const receivers = new Map<DestinationKind, BenchReceiver>();
    let streamer: ServiceProcess | null = null;
    try {
      const seeded = await seed(app, db, flags.skipThroughput ? 0 : flags.events);
      streamer = await startServiceProcess(db.url, {
        AUDIT_STREAMING: 'on',
        AUDIT_STREAMING_POLL_MS: String(flags.pollMs),
        AUDIT_STREAMING_SECRET_KEY: secretKey,
      });
      const needed = new Set<DestinationKind>(flags.skipThroughput ? [] : variants.map((v) => v.kind));
      if (!flags.skipLag) for (const kind of lagKindsOf(flags)) needed.add(kind);
      for (const kind of needed) receivers.set(kind, await startReceiver(kind));
      const bench: Bench = { db, app, destinations: app.get(DestinationsService), streamer, receivers };

      const runs = flags.skipThroughput ? [] : await throughput(bench, flags, variants, seeded);
      const lag = flags.skipLag ? null : await lagUnderLoad(bench, flags);
      report(flags, stamp, variants, runs, lag, seeded, receivers);
    } finally {
      for (const receiver of receivers.values()) await receiver.close().catch(() => undefined);
      await streamer?.stop();
      await app.close();
    }
  });
}

function lagKindsOf(flags: Flags): DestinationKind[] {
  const kinds = flags.lagKinds.split(',').filter(Boolean) as DestinationKind[];
  for (const kind of kinds)
    if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`--lagKinds: unknown kind ${kind}`);
  return kinds;
}

async function startReceiver(kind: DestinationKind): Promise<BenchReceiver> {
  switch (kind) {
    case 'webhook':
    case 'splunk-hec':
    case 'datadog':
      return startHttpReceiver(kind);
    case 'syslog':
      return startSyslogReceiver();
    case 'nats':
      return startNatsReceiver(NATS_URL);
    case 's3':
      return startS3Receiver();
  }
}

/** Realistic account updates (bench/lib/events.ts), spread round-robin over the organizations. */
function inputs(count: number): (i: number) => RecordAuditEventInput {
  const base = makeRecordInputs(Math.max(1, Math.min(count, 10_000)), 7);
  return (i) => {
    const input = base[i % base.length];
    return { ...input, actor: { ...input.actor, organizationId: ORGANIZATIONS[i % ORGANIZATIONS.length] } };
  };
}

interface Seeded {
  events: number;
  seals: number;
  sealedEvents: number;
  seconds: number;
  /** Before the first event: the backfills' startFrom. */
  startFrom: Date;
  /** The events of the first organization: what a warm-up destination limited to it delivers. */
  warmupEvents: number;
}

/** N events through record() + flush(), committed with their seals. */
async function seed(app: INestApplication, db: BenchDatabase, count: number): Promise<Seeded> {
  const audit = app.get(AuditService);
  const next = inputs(count);
  const startFrom = new Date(Date.now() - 60_000);
  const started = performance.now();
  if (count > 0)
    console.error(`Writing ${formatNumber(count)} events over ${ORGANIZATIONS.length} organizations...`);
  for (let i = 0; i < count; i++) {
    if (audit.record(next(i)) === null) throw new Error('record() dropped an event while seeding');
    if (i % 500 === 499) {
      await yieldToLoop();
      while (audit.stats().pending > 20_000) await sleep(5);
    }
  }
  if (!(await audit.flush(300_000))) throw new Error('the audit buffer did not drain');
  const seconds = (performance.now() - started) / 1000;
  const events = await countAuditEvents(db.sql);
  const { rows } = await db.sql.query<{ seals: string; sealed: string | null }>(
    'SELECT count(*) AS seals, sum(event_count) AS sealed FROM audit_seals',
  );
  const warm = await db.sql.query<{ count: string }>(
    'SELECT count(*) FROM audit_events WHERE organization_id = $1',
    [ORGANIZATIONS[0]],
  );
  const seeded = {
    events,
    seals: Number(rows[0].seals),
    sealedEvents: Number(rows[0].sealed ?? 0),
    seconds,
    startFrom,
    warmupEvents: Number(warm.rows[0].count),
  };
  if (seeded.events !== count || seeded.sealedEvents !== count)
    throw new Error(`seeded ${seeded.events} events, ${seeded.sealedEvents} sealed, for ${count}`);
  if (count > 0)
    console.error(
      `  ${formatNumber(events)} events committed in ${seconds.toFixed(1)} s, ${formatNumber(seeded.seals)} seals`,
    );
  return seeded;
}

async function throughput(
  bench: Bench,
  flags: Flags,
  variants: Variant[],
  seeded: Seeded,
): Promise<DeliveryRun[]> {
  const runs: DeliveryRun[] = [];
  console.error(
    `Warm-up: a backfill of one organization's ${formatNumber(seeded.warmupEvents)} events per kind (not measured)...`,
  );
  for (const variant of variants) {
    const run = await deliverBackfill(bench, flags, variant, 0, seeded.startFrom, seeded.warmupEvents, {
      organizationId: ORGANIZATIONS[0],
      timeoutSeconds: Math.min(30, flags.timeout),
    });
    if (!run.complete)
      console.error(
        `  warm-up ${label(variant)}: ${run.events}/${run.expected} delivered: ${run.lastError ?? 'no error reported'}`,
      );
  }
  console.error(
    `Delivering the ${formatNumber(seeded.events)} events to a new destination per kind and rep (backfill), ${flags.reps} reps...`,
  );
  for (let rep = 1; rep <= flags.reps; rep++) {
    for (const variant of rotated(variants, rep)) {
      const run = await deliverBackfill(bench, flags, variant, rep, seeded.startFrom, seeded.events);
      runs.push(run);
      console.error(
        `  rep ${rep}/${flags.reps} ${label(variant).padEnd(16)} ${formatNumber(Math.round(run.eventsPerSec)).padStart(7)} events/s ` +
          `(${formatNumber(run.events)} in ${run.seconds.toFixed(2)} s${run.duplicates ? `, ${run.duplicates} duplicates` : ''})` +
          `${run.complete ? '' : ` INCOMPLETE: ${run.lastError ?? 'no error reported'}`}`,
      );
      await sleep(300);
    }
  }
  return runs;
}

/**
 * One backfill: a new destination from `startFrom` (every organization's events, or one organization's),
 * timed from its creation until its receiver has the `expected` events.
 */
async function deliverBackfill(
  bench: Bench,
  flags: Flags,
  variant: Variant,
  rep: number,
  startFrom: Date,
  expected: number,
  options: { organizationId?: string; timeoutSeconds?: number } = {},
): Promise<DeliveryRun> {
  const receiver = bench.receivers.get(variant.kind)!;
  await receiver.reset();
  const target = receiver.target(variant.format);
  const cpuBefore = processCpuSeconds(bench.streamer.pid);
  const started = performance.now();
  const created = await bench.destinations.create(PLATFORM, {
    name: `bench-${variant.kind}-${variant.format}-${rep}-${randomBytes(3).toString('hex')}`,
    ...target,
    organizationId: options.organizationId,
    startFrom: startFrom.toISOString(),
    batchSize: flags.batchSize,
  });
  const deadline = started + (options.timeoutSeconds ?? flags.timeout) * 1000;
  let events = await receiver.distinct();
  while (events < expected && performance.now() < deadline) {
    await sleep(20);
    events = await receiver.distinct();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = processCpuSeconds(bench.streamer.pid);
  const status = await bench.destinations.get(PLATFORM, created.id);
  await bench.destinations.remove(PLATFORM, created.id);
  const total = receiver.total();
  return {
    ...variant,
    rep,
    events,
    expected,
    seconds,
    eventsPerSec: events / seconds,
    duplicates: total === null ? null : total - events,
    streamerCpuUsPerEvent:
      cpuBefore === null || cpuAfter === null || events === 0
        ? null
        : ((cpuAfter - cpuBefore) * 1e6) / events,
    complete: events >= expected,
    lastError: status.status.lastError,
  };
}

interface LagSample {
  second: number;
  /** When the sample was taken, s since the load started (timers run late on a busy machine). */
  atSeconds: number;
  recorded: number;
  /** The admin API's status lagSeconds (computed on request), per destination kind. */
  statusLag: Record<string, number>;
  /** audit_stream_lag_seconds from the streamer's /metrics (refreshed by the streamer every 5 s at most). */
  gaugeLag: Record<string, number | null>;
}

interface LagResult {
  rate: number;
  durationSeconds: number;
  recorded: number;
  /** record() calls per second over the load, and the events committed with occurredAt in the load window. */
  achievedRecordRate: number;
  committedInWindow: number;
  perSecondRecorded: { min: number; max: number; values: number[] };
  /** This process's event loop delay during the load (it runs the writer and the receivers), ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  loadAverage: { before: number[]; after: number[] };
  latencyMs: Record<string, Summary & { received: number; expected: number }>;
  samples: LagSample[];
}

/**
 * A steady load while destinations of `--lagKinds` deliver (new, from now: no backfill). What bounds the latency of one event:
 * - the writer's buffer: captured events are written every AUDIT_FLUSH_INTERVAL_MS (250 ms) or as soon as
 *   AUDIT_BATCH_SIZE (2000) are pending; at 1,000 events/s the interval decides: 0-250 ms of waiting;
 * - the COPY of the batch and its seals, committed in one transaction (one seal per organization): the
 *   streamer reads by seal, so an event is deliverable once that transaction commits;
 * - the streamer: an idle destination looks for new seals every AUDIT_STREAMING_POLL_MS (`--pollMs`);
 *   a run that is delivering keeps reading until nothing is left, so under load most batches are picked up
 *   without waiting for a poll;
 * - the read (seals, then the events of those seals), formatting, and the receiver's acknowledgement
 *   (webhook: one POST per batch; NATS: one PubAck per event, in order within an organization).
 * So p50 sits near half the flush interval plus the poll and send times, and the tail near the flush
 * interval plus one poll plus the time of a delivery that was already running when the batch committed.
 */
async function lagUnderLoad(bench: Bench, flags: Flags): Promise<LagResult> {
  const audit = bench.app.get(AuditService);
  const kinds = lagKindsOf(flags);
  const ids: Record<string, string> = {};
  const names: Record<string, string> = {};
  for (const kind of kinds) {
    const receiver = bench.receivers.get(kind)!;
    await receiver.reset();
    names[kind] = `bench-lag-${kind}-${randomBytes(3).toString('hex')}`;
    ids[kind] = (
      await bench.destinations.create(PLATFORM, {
        name: names[kind],
        ...receiver.target('json'),
        batchSize: flags.batchSize,
      })
    ).id;
    await receiver.trackLatency(true);
  }
  const windowStart = new Date();
  await sleep(Math.max(500, 3 * flags.pollMs)); // the streamer has started both destinations' runs
  console.error(
    `Recording ${formatNumber(flags.rate)} events/s for ${flags.duration} s while ${kinds.join(' and ')} deliver...`,
  );
  const next = inputs(flags.rate * flags.duration);
  const total = flags.rate * flags.duration;
  const perSecond: number[] = [];
  const samples: LagSample[] = [];
  let recorded = 0;
  let sampling = true;
  const loadBefore = loadavg();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const started = performance.now();
  const sampler = (async () => {
    for (let second = 1; sampling; second++) {
      await sleep(1000);
      samples.push({
        second,
        atSeconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        recorded,
        statusLag: Object.fromEntries(
          await Promise.all(
            kinds.map(async (kind) => [
              kind,
              (await bench.destinations.get(PLATFORM, ids[kind])).status.lagSeconds,
            ]),
          ),
        ),
        gaugeLag: await lagGauges(bench.streamer, names),
      });
    }
  })();

  let secondStart = started;
  let inSecond = 0;
  while (recorded < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - started) / 1000) * flags.rate));
    for (; recorded < due; recorded++, inSecond++) audit.record(next(recorded));
    if (now - secondStart >= 1000) {
      perSecond.push(inSecond);
      inSecond = 0;
      secondStart += 1000;
    }
    await sleep(5);
  }
  const loadSeconds = (performance.now() - started) / 1000;
  loopDelay.disable();
  if (inSecond > 0 && perSecond.length < flags.duration) perSecond.push(inSecond);
  if (!(await audit.flush(60_000))) throw new Error('the audit buffer did not drain');
  const windowEnd = new Date();
  const { rows } = await bench.db.sql.query<{ count: string }>(
    'SELECT count(*) FROM audit_events WHERE occurred_at >= $1 AND occurred_at <= $2',
    [windowStart, windowEnd],
  );
  const committedInWindow = Number(rows[0].count);

  // Every event of the window at both receivers (bounded wait), then the sampler stops.
  const deadline = performance.now() + 60_000;
  for (const kind of kinds) {
    const receiver = bench.receivers.get(kind)!;
    while (receiver.latencies().length < committedInWindow && performance.now() < deadline) await sleep(50);
  }
  sampling = false;
  await sampler;

  const latencyMs: LagResult['latencyMs'] = {};
  for (const kind of kinds) {
    const receiver = bench.receivers.get(kind)!;
    await receiver.trackLatency(false);
    const values = receiver.latencies();
    latencyMs[kind] = { ...summarize(values), received: values.length, expected: committedInWindow };
    await bench.destinations.remove(PLATFORM, ids[kind]);
  }
  return {
    rate: flags.rate,
    durationSeconds: flags.duration,
    recorded,
    achievedRecordRate: recorded / loadSeconds,
    committedInWindow,
    perSecondRecorded: { min: Math.min(...perSecond), max: Math.max(...perSecond), values: perSecond },
    eventLoopDelayMs: {
      p50: loopDelay.percentile(50) / 1e6,
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
    },
    loadAverage: { before: loadBefore, after: loadavg() },
    latencyMs,
    samples,
  };
}

/** audit_stream_lag_seconds of these destinations (by name) from the streamer's /metrics. */
async function lagGauges(
  streamer: ServiceProcess,
  names: Record<string, string>,
): Promise<Record<string, number | null>> {
  let text = '';
  try {
    text = await (await fetch(`${streamer.baseUrl}/metrics`)).text();
  } catch {
    // reported as null
  }
  return Object.fromEntries(
    Object.entries(names).map(([kind, name]) => {
      const match = new RegExp(`^audit_stream_lag_seconds\\{destination="${name}"[^}]*\\} (\\S+)$`, 'm').exec(
        text,
      );
      return [kind, match ? Number(match[1]) : null];
    }),
  );
}

function report(
  flags: Flags,
  stamp: string,
  variants: Variant[],
  runs: DeliveryRun[],
  lag: LagResult | null,
  seeded: Seeded,
  receivers: Map<DestinationKind, BenchReceiver>,
): void {
  const summary = variants.map((variant) => {
    const group = runs.filter((r) => r.kind === variant.kind && r.format === variant.format);
    const rates = group.map((r) => r.eventsPerSec);
    const cpu = group.map((r) => r.streamerCpuUsPerEvent).filter((v): v is number => v !== null);
    return {
      ...variant,
      label: label(variant),
      eventsPerSec: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      perRep: group.map((r) => Math.round(r.eventsPerSec)),
      streamerCpuUsPerEvent: cpu.length ? median(cpu) : null,
      duplicates: group.reduce((sum, r) => sum + (r.duplicates ?? 0), 0),
      incomplete: group.filter((r) => !r.complete).length,
    };
  });
  if (runs.length) {
    printTable(
      `Backfill of ${formatNumber(seeded.events)} sealed events (${ORGANIZATIONS.length} organizations) per destination kind: ` +
        `${flags.reps} reps, order rotated, batchSize ${flags.batchSize}, poll ${flags.pollMs} ms`,
      [
        'kind',
        'events/s (median)',
        'min',
        'max',
        'per rep (rep order)',
        'streamer CPU us/event',
        'duplicates',
        'incomplete',
      ],
      summary.map((s) => [
        s.label,
        Math.round(s.eventsPerSec),
        Math.round(s.min),
        Math.round(s.max),
        s.perRep.join(' '),
        s.streamerCpuUsPerEvent === null ? '-' : Math.round(s.streamerCpuUsPerEvent),
        s.duplicates,
        s.incomplete,
      ]),
    );
  }
  if (lag) {
    printTable(
      `Latency at ${formatNumber(lag.rate)} events/s for ${lag.durationSeconds} s (arrival - occurredAt, ms)`,
      ['destination', 'events', 'p50', 'p95', 'p99', 'max', 'status lagSeconds max', 'gauge max'],
      Object.entries(lag.latencyMs).map(([kind, s]) => [
        kind,
        `${formatNumber(s.received)}/${formatNumber(s.expected)}`,
        Math.round(s.p50),
        Math.round(s.p95),
        Math.round(s.p99),
        Math.round(s.max),
        Math.max(...lag.samples.map((x) => x.statusLag[kind] ?? 0)).toFixed(1),
        maxOrDash(lag.samples.map((x) => x.gaugeLag[kind])),
      ]),
    );
    console.log(
      `\nWrite rate: ${formatNumber(Math.round(lag.achievedRecordRate))} record()/s over the load ` +
        `(per second ${formatNumber(lag.perSecondRecorded.min)}-${formatNumber(lag.perSecondRecorded.max)}); ` +
        `${formatNumber(lag.committedInWindow)} events committed in the window for ${formatNumber(lag.recorded)} recorded; ` +
        `this process's event loop delay p99 ${lag.eventLoopDelayMs.p99.toFixed(0)} ms, max ${lag.eventLoopDelayMs.max.toFixed(0)} ms; ` +
        `load average ${lag.loadAverage.before[0].toFixed(1)} -> ${lag.loadAverage.after[0].toFixed(1)}.`,
    );
  }
  const name = flags.quick ? 'streaming-quick' : 'streaming';
  const file = writeResults(
    name,
    {
      params: flags,
      setup: {
        streamer: 'service process (dist/demo/main.js), AUDIT_STREAMING=on',
        writer: `in-process app (bench process), record() + flush(), AUDIT_FLUSH_INTERVAL_MS ${WRITER.flushIntervalMs}, AUDIT_BATCH_SIZE ${WRITER.batchSize}`,
        organizations: ORGANIZATIONS.length,
        receivers: Object.fromEntries([...receivers].map(([kind, r]) => [kind, r.description])),
      },
      seeded,
      summary,
      runs,
      lag,
    },
    stamp,
  );
  const chart = streamingChartSvg({
    quick: flags.quick,
    stamp,
    reps: flags.reps,
    seededEvents: seeded.events,
    summary: runs.length ? summary : [],
    lag,
  });
  const svg = writeBenchFile(join('bench', 'results', `${name}-${stamp}.svg`), chart);
  if (!flags.quick) writeBenchFile(join('bench', 'charts', 'streaming.svg'), chart);
  console.log(`\nResults: ${file}\nChart: ${svg}`);
}

function maxOrDash(values: Array<number | null>): string {
  const present = values.filter((v): v is number => v !== null);
  return present.length ? Math.max(...present).toFixed(1) : '-';
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
