import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { AuditService } from '../audit';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { loadOptionalPackage } from '../common/packages/optional-package';

const ALL = '*';
const STATS = '~stats';
/** Resource types of the access events recorded when the trail itself is read (audit-event, audit-history...). */
const ACCESS_PREFIX = 'audit-';

/**
 * A short-lived Redis cache for stats and first pages of hot queries, keyed per tenant. Each tenant has a
 * version counter in Redis, bumped when a batch with its events is committed (and the stats version when
 * the views are refreshed), so every replica stops serving stale entries at once. An entry stores the
 * version it was computed at; a read fetches entry and version in one round-trip (MGET). Without
 * REDIS_URL, or while Redis is unreachable, every call simply computes the value.
 */
@Injectable()
export class QueryCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(QueryCache.name);
  private readonly redis?: Redis;
  private readonly ttl: number;
  private readonly prefix: string;

  constructor(
    @Inject(AUDIT_CONFIG) config: AuditTrailConfig,
    private readonly audit: AuditService,
  ) {
    this.ttl = config.query.cacheTtlSeconds;
    this.prefix = config.query.cachePrefix;
    if (config.redisUrl && this.ttl > 0) {
      const { Redis: RedisClient } = loadOptionalPackage<typeof import('ioredis')>(
        'ioredis',
        'the query cache (REDIS_URL with AUDIT_CACHE_TTL_S > 0 / query: { redisUrl })',
      );
      this.redis = new RedisClient(config.redisUrl, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 1000,
      });
      this.redis.on('error', (error: Error) => this.logger.debug(`Redis unavailable: ${error.message}`));
    }
  }

  async onModuleInit(): Promise<void> {
    if (!this.redis) return;
    await this.redis
      .connect()
      .catch((error: Error) => this.logger.warn(`Query cache off for now: ${error.message}`));
    this.audit.onFlushed((events) => {
      // Reading the trail records access events; letting those invalidate the reader's own cache would
      // empty it on every read. They show up at the latest after the TTL.
      const organizations = new Set(
        events.filter((e) => !e.resourceType?.startsWith(ACCESS_PREFIX)).map((e) => e.organizationId ?? ''),
      );
      if (organizations.size > 0)
        this.bump([...organizations].map((org) => this.versionKey(org)).concat(this.versionKey(ALL)));
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis?.disconnect();
  }

  /** `compute()` through the cache of `tenant` (undefined: all tenants). */
  async wrap<T>(tenant: string | undefined, key: string, compute: () => Promise<T>): Promise<T> {
    return this.cached(this.versionKey(tenant ?? ALL), `${tenant ?? ALL}:${key}`, compute);
  }

  /** Stats come from the materialized views: invalidated when the views are refreshed. */
  async wrapStats<T>(tenant: string | undefined, key: string, compute: () => Promise<T>): Promise<T> {
    return this.cached(this.versionKey(STATS), `${STATS}:${tenant ?? ALL}:${key}`, compute);
  }

  statsRefreshed(): void {
    this.bump([this.versionKey(STATS)]);
  }

  private async cached<T>(versionKey: string, key: string, compute: () => Promise<T>): Promise<T> {
    if (!this.redis || this.redis.status !== 'ready') return compute();
    const dataKey = `${this.prefix}data:${createHash('sha256').update(key).digest('base64url')}`;
    let version: string;
    try {
      const [entry, current] = await this.redis.mget(dataKey, versionKey);
      version = current ?? '0';
      if (entry) {
        const { v, value } = JSON.parse(entry) as { v: string; value: T };
        if (v === version) return value;
      }
    } catch (error) {
      this.logger.debug(`Cache read failed: ${(error as Error).message}`);
      return compute();
    }
    const value = await compute();
    this.redis
      .set(dataKey, JSON.stringify({ v: version, value }), 'EX', this.ttl)
      .catch((error: Error) => this.logger.debug(`Cache write failed: ${error.message}`));
    return value;
  }

  private versionKey(tenant: string): string {
    return `${this.prefix}version:${tenant}`;
  }

  private bump(keys: string[]): void {
    if (!this.redis || this.redis.status !== 'ready') return;
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.incr(key);
    pipeline.exec().catch((error: Error) => this.logger.debug(`Cache invalidation failed: ${error.message}`));
  }
}
