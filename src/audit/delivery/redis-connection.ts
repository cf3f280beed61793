import type { Cluster, Redis } from 'ioredis';
import type { ResolvedRedisOptions } from '../audit-options';
import { loadOptionalPackage } from '../../common/packages/optional-package';

/**
 * A single Redis or a Redis Cluster: the commands the delivery uses are the same on both.
 * @internal (not in the declarations: an app without ioredis compiles with skipLibCheck off)
 */
export type RedisClient = Redis | Cluster;

/**
 * Connection settings that fail fast: while Redis is away, events must go to the spool, not a queue. A
 * `blocking` connection (XREADGROUP BLOCK) waits as long as it must. With `cluster`, a Cluster client on
 * those seed nodes, with the same settings for each node (credentials and TLS from the first URL).
 * @internal (not in the declarations: an app without ioredis compiles with skipLibCheck off)
 */
export function redisConnection(options: ResolvedRedisOptions, name: string, blocking = false): RedisClient {
  const ioredis = loadOptionalPackage<typeof import('ioredis')>(
    'ioredis',
    "AUDIT_DELIVERY=redis / delivery: 'redis'",
  );
  const settings = {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: blocking ? null : 1,
    connectTimeout: 2_000,
    commandTimeout: blocking ? undefined : 2_000,
  };
  const retry = (attempt: number) => Math.min(2_000, 50 * attempt);
  if (!options.cluster) {
    return new ioredis.Redis(options.url!, {
      ...settings,
      lazyConnect: true,
      enableAutoPipelining: !blocking,
      retryStrategy: retry,
    });
  }
  const seed = new URL(options.cluster[0]);
  return new ioredis.Cluster(
    options.cluster.map((node) => {
      const url = new URL(node);
      return { host: url.hostname, port: Number(url.port || 6379) };
    }),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: !blocking,
      clusterRetryStrategy: retry,
      slotsRefreshTimeout: 2_000,
      redisOptions: {
        ...settings,
        username: decodeURIComponent(seed.username) || undefined,
        password: decodeURIComponent(seed.password) || undefined,
        tls: seed.protocol === 'rediss:' ? {} : undefined,
      },
    },
  );
}
