import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { hostname } from 'node:os';
import type { AuditEventRepository } from '../audit-event.repository';
import type { ResolvedAuditOptions, ResolvedRedisOptions } from '../audit-options';
import type { QueuedEvent, WriterSink } from '../queued-event';
import { maxAdaptiveBatch } from './adaptive-batch';
import { describeError } from '../../common/database/safe-query.logger';
import { serializeQueued } from './queued-event.codec';
import { StreamConsumer } from './stream-consumer';
import { loadOptionalPackage } from '../../common/packages/optional-package';

export interface StreamStats {
  /** False while Redis does not answer (events then go to the local spool). */
  connected: boolean;
  /** Entries in the stream: not yet committed to Postgres (delivered or not). */
  length: number;
  /** Entries delivered to a consumer and not yet acknowledged. */
  pending: number;
  /** Entries not yet delivered to any consumer. */
  lag: number;
  /** Age of the oldest entry not yet committed; null when none. */
  oldestAgeMs: number | null;
  deadLetters: number;
  /** Events appended to the stream by this process. */
  appended: number;
  /** Events that went to the local spool because Redis did not take them. */
  fellBack: number;
}

const STATS_EVERY_MS = 500;
const STATS_TIMEOUT_MS = 1_000;

/**
 * Connection settings that fail fast: while Redis is away, events must go to the spool, not a queue.
 * @internal (not in the declarations: an app without ioredis compiles with skipLibCheck off)
 */
export function redisConnection(url: string, name: string, blocking = false): Redis {
  const { Redis: RedisClient } = loadOptionalPackage<typeof import('ioredis')>(
    'ioredis',
    "AUDIT_DELIVERY=redis / delivery: 'redis'",
  );
  return new RedisClient(url, {
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: !blocking,
    maxRetriesPerRequest: blocking ? null : 1,
    connectTimeout: 2_000,
    commandTimeout: blocking ? undefined : 2_000,
    retryStrategy: (attempt) => Math.min(2_000, 50 * attempt),
  });
}

/**
 * Redis Streams delivery. The producer side appends each event (XADD, auto-pipelined: concurrent requests
 * share round trips) and resolves once Redis has it; the caller answers the request only then. The
 * consumer side (in this process, `consumers` of them, and/or in `npm run worker` processes) flushes the
 * stream to Postgres. When Redis does not answer, events go to the local disk spool instead (durable too),
 * which the writer replays into Postgres directly. The stream never grows past its high-water mark with
 * non-critical events: those are refused (the caller applies the overflow policy).
 */
export class RedisStreamDelivery {
  private readonly logger = new Logger(RedisStreamDelivery.name);
  private readonly producer: Redis;
  private readonly control: Redis;
  private readonly consumers: StreamConsumer[] = [];
  private readonly consumerConnections: Redis[] = [];
  private statsTimer?: NodeJS.Timeout;
  private latest: StreamStats = {
    connected: false,
    length: 0,
    pending: 0,
    lag: 0,
    oldestAgeMs: null,
    deadLetters: 0,
    appended: 0,
    fellBack: 0,
  };
  /** Appended since the last XLEN: the high-water check stays right between two stats polls. */
  private appendedSincePoll = 0;

  constructor(
    private readonly options: ResolvedRedisOptions,
    private readonly audit: ResolvedAuditOptions,
    private readonly writer: WriterSink,
    private readonly repository: AuditEventRepository,
    /** Consumers to run here (0 for a producer-only API process). */
    private readonly consumerCount: number,
  ) {
    const id = `${hostname()}:${process.pid}`;
    this.producer = redisConnection(options.url, `audit-producer:${id}`);
    this.control = redisConnection(options.url, `audit-control:${id}`);
    for (let i = 0; i < consumerCount; i++) {
      const connection = redisConnection(options.url, `audit-consumer:${id}:${i}`, true);
      this.consumerConnections.push(connection);
      this.consumers.push(
        new StreamConsumer(
          connection,
          repository,
          options,
          {
            batchSize: audit.batchSize,
            maxBatch: maxAdaptiveBatch(audit.batchSize),
            blockMs: audit.flushIntervalMs,
          },
          `${id}:${i}`,
          {
            attempt: (attempt) => writer.reportAttempt(attempt),
            flushed: (events) => writer.reportFlushed(events),
            poisoned: (count) => writer.reportPoisoned(count),
            deadLetter: (poisoned) => writer.deadLetter(poisoned),
          },
        ),
      );
    }
    for (const connection of [this.producer, this.control, ...this.consumerConnections]) {
      // ioredis reconnects by itself; errors are reported through stats, metrics and readiness.
      connection.on('error', (error: Error) => this.logger.debug(`Redis: ${error.message}`));
    }
  }

  async start(): Promise<void> {
    const connections = [this.producer, this.control, ...this.consumerConnections];
    const results = await Promise.allSettled(connections.map((connection) => connection.connect()));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) {
      this.logger.warn(
        `Redis not reachable at start-up (${describeError(failed.reason)}): events go to the local spool until it is`,
      );
    }
    for (const consumer of this.consumers) consumer.start();
    this.statsTimer = setInterval(() => void this.pollStats(), STATS_EVERY_MS);
    this.statsTimer.unref();
    await this.pollStats();
  }

  async stop(): Promise<void> {
    clearInterval(this.statsTimer);
    await Promise.all(this.consumers.map((consumer) => consumer.stop()));
    for (const connection of [this.producer, this.control, ...this.consumerConnections]) {
      connection.disconnect();
    }
  }

  /** True while the stream is below its high-water mark. */
  hasRoom(): boolean {
    return this.latest.length + this.appendedSincePoll < this.options.maxStreamLength;
  }

  /**
   * Makes one event durable: in the stream, or (Redis away) in the local spool. Resolves true once it is;
   * false when it could be neither (counted as dropped by the caller).
   */
  async submit(event: QueuedEvent): Promise<boolean> {
    if (this.producer.status === 'ready') {
      try {
        await this.producer.xadd(this.options.streamKey, '*', 'e', serializeQueued(event));
        this.latest.appended++;
        this.writer.reportCaptured(1);
        this.appendedSincePoll++;
        return true;
      } catch (error) {
        this.logger.warn(`XADD failed (${describeError(error)}): event ${event.id} goes to the spool`);
      }
    }
    this.latest.fellBack++;
    return this.writer.spoolNow([event]);
  }

  /** Resolves true once the stream is empty (everything committed), false after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const length = await this.control.xlen(this.options.streamKey).catch(() => -1);
      if (length === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  stats(): StreamStats {
    return { ...this.latest };
  }

  /** Redis PING with a timeout, for readiness. */
  async ping(timeoutMs: number): Promise<void> {
    await withTimeout(this.control.ping(), timeoutMs, 'Redis did not answer PING');
  }

  /** Stream length, pending, lag and the age of the oldest uncommitted entry, in one round trip. */
  private async pollStats(): Promise<void> {
    if (this.control.status !== 'ready') {
      this.latest.connected = false;
      return;
    }
    try {
      const { streamKey, group, deadLetterKey } = this.options;
      const replies = await withTimeout(
        this.control
          .pipeline()
          .xlen(streamKey)
          .xpending(streamKey, group)
          .xlen(deadLetterKey)
          .xrange(streamKey, '-', '+', 'COUNT', 1)
          .exec(),
        STATS_TIMEOUT_MS,
        'stream stats timed out',
      );
      const value = (i: number): unknown => {
        const [error, result] = replies?.[i] ?? [null, null];
        return error ? null : result;
      };
      const length = Number(value(0) ?? 0);
      const pendingCount = Number((value(1) as [number, ...unknown[]] | null)?.[0] ?? 0);
      const first = (value(3) as Array<[string, string[]]> | null)?.[0];
      // Stream ids start with the millisecond the entry was added: the oldest entry is the oldest wait.
      const oldestId = first?.[0];
      this.latest = {
        ...this.latest,
        connected: true,
        length,
        pending: pendingCount,
        // Acknowledged entries are deleted, so the stream is exactly pending + not yet delivered.
        lag: Math.max(0, length - pendingCount),
        oldestAgeMs: oldestId ? Math.max(0, Date.now() - Number(oldestId.split('-')[0])) : null,
        deadLetters: Number(value(2) ?? 0),
      };
      this.appendedSincePoll = 0;
    } catch (error) {
      this.latest.connected = false;
      this.logger.debug(`Stream stats not read: ${describeError(error)}`);
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
