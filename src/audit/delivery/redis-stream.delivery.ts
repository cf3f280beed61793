import { Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import type { AuditEventRepository } from '../audit-event.repository';
import type { ResolvedAuditOptions, ResolvedRedisOptions } from '../audit-options';
import type { QueuedEvent, WriterSink } from '../queued-event';
import { maxAdaptiveBatch } from './adaptive-batch';
import { describeError } from '../../common/database/safe-query.logger';
import { serializeQueued } from './queued-event.codec';
import { StreamConsumer } from './stream-consumer';
import { RedisClient, redisConnection } from './redis-connection';
import { shardOf, StreamShard, streamShards } from './stream-shards';

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
 * Redis Streams delivery. The producer side appends each event (XADD, auto-pipelined: concurrent requests
 * share round trips) and resolves once Redis has it; the caller answers the request only then. The
 * consumer side (in this process, `consumers` of them, and/or in `npm run worker` processes) flushes the
 * stream to Postgres. When Redis does not answer, events go to the local disk spool instead (durable too),
 * which the writer replays into Postgres directly. The stream never grows past its high-water mark with
 * non-critical events: those are refused (the caller applies the overflow policy).
 *
 * Sharded (`shards` > 1): an event goes to its organization's shard; each consumer here reads one shard,
 * `consumers` of them per shard, so every process that consumes reads every shard (no assignment to
 * coordinate; the consumer group of each shard spreads its entries over the processes). Stats add up the
 * shards (oldest age: the oldest of them).
 */
export class RedisStreamDelivery {
  private readonly logger = new Logger(RedisStreamDelivery.name);
  private readonly producer: RedisClient;
  private readonly control: RedisClient;
  private readonly shards: StreamShard[];
  private readonly consumers: StreamConsumer[] = [];
  private readonly consumerConnections: RedisClient[] = [];
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
    this.shards = streamShards(options.streamKey, options.shards, options.cluster !== null);
    this.producer = redisConnection(options, `audit-producer:${id}`);
    this.control = redisConnection(options, `audit-control:${id}`);
    for (const shard of this.shards) {
      // The consumer reads and writes its shard's keys only.
      const shardOptions = { ...options, streamKey: shard.stream, deadLetterKey: shard.deadLetter };
      for (let i = 0; i < consumerCount; i++) {
        const connection = redisConnection(options, `audit-consumer:${id}:${i}`, true);
        this.consumerConnections.push(connection);
        this.consumers.push(
          new StreamConsumer(
            connection,
            repository,
            shardOptions,
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
        const shard = this.shards[shardOf(event.organizationId, this.shards.length)];
        await this.producer.xadd(shard.stream, '*', 'e', serializeQueued(event));
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
      const lengths = await Promise.all(
        this.shards.map((shard) => this.control.xlen(shard.stream).catch(() => -1)),
      );
      if (lengths.every((length) => length === 0)) return true;
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

  /** Stream length, pending, lag and the age of the oldest uncommitted entry: one round trip per shard. */
  private async pollStats(): Promise<void> {
    if (this.control.status !== 'ready') {
      this.latest.connected = false;
      return;
    }
    try {
      const shards = await withTimeout(
        Promise.all(this.shards.map((shard) => this.shardStats(shard))),
        STATS_TIMEOUT_MS,
        'stream stats timed out',
      );
      const sum = (field: keyof ShardStats) => shards.reduce((total, shard) => total + shard[field], 0);
      const oldest = Math.min(...shards.map((shard) => shard.oldestAt));
      this.latest = {
        ...this.latest,
        connected: true,
        length: sum('length'),
        pending: sum('pending'),
        // Acknowledged entries are deleted, so a stream is exactly pending + not yet delivered.
        lag: shards.reduce((total, shard) => total + Math.max(0, shard.length - shard.pending), 0),
        oldestAgeMs: Number.isFinite(oldest) ? Math.max(0, Date.now() - oldest) : null,
        deadLetters: sum('deadLetters'),
      };
      this.appendedSincePoll = 0;
    } catch (error) {
      this.latest.connected = false;
      this.logger.debug(`Stream stats not read: ${describeError(error)}`);
    }
  }

  /** One pipeline: a shard's keys share a slot (hash tag), so it is one node's on a cluster too. */
  private async shardStats({ stream, deadLetter }: StreamShard): Promise<ShardStats> {
    const replies = await this.control
      .pipeline()
      .xlen(stream)
      .xpending(stream, this.options.group)
      .xlen(deadLetter)
      .xrange(stream, '-', '+', 'COUNT', 1)
      .exec();
    const value = (i: number): unknown => {
      const [error, result] = replies?.[i] ?? [null, null];
      return error ? null : result;
    };
    // Stream ids start with the millisecond the entry was added: the oldest entry is the oldest wait.
    const oldestId = (value(3) as Array<[string, string[]]> | null)?.[0]?.[0];
    return {
      length: Number(value(0) ?? 0),
      pending: Number((value(1) as [number, ...unknown[]] | null)?.[0] ?? 0),
      deadLetters: Number(value(2) ?? 0),
      oldestAt: oldestId ? Number(oldestId.split('-')[0]) : Infinity,
    };
  }
}

interface ShardStats {
  length: number;
  pending: number;
  deadLetters: number;
  /** Epoch ms of the oldest entry; Infinity when the shard is empty. */
  oldestAt: number;
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
