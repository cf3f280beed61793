import { resolveAuditOptions } from '../audit-options';
import { shardOf, streamShards } from './stream-shards';

describe('stream shards', () => {
  it('keeps the single stream of earlier releases for one shard on one Redis', () => {
    expect(streamShards('audit:events', 1, false)).toEqual([
      { stream: 'audit:events', deadLetter: 'audit:events:dead' },
    ]);
  });

  it('hash-tags each shard so its stream and dead letters share a slot (cluster, or several shards)', () => {
    expect(streamShards('audit:events', 2, false)).toEqual([
      { stream: '{audit:events:0}', deadLetter: '{audit:events:0}:dead' },
      { stream: '{audit:events:1}', deadLetter: '{audit:events:1}:dead' },
    ]);
    expect(streamShards('audit:events', 1, true)).toEqual([
      { stream: '{audit:events:0}', deadLetter: '{audit:events:0}:dead' },
    ]);
  });

  it('maps an organization to the same shard every time, and spreads organizations over the shards', () => {
    const orgs = Array.from({ length: 400 }, (_, i) => `org-${i}`);
    expect(orgs.map((org) => shardOf(org, 8))).toEqual(orgs.map((org) => shardOf(org, 8)));
    const perShard = new Array<number>(8).fill(0);
    for (const org of orgs) perShard[shardOf(org, 8)]++;
    expect(Math.min(...perShard)).toBeGreaterThan(25); // 50 each when even
    expect(shardOf(null, 8)).toBe(0);
    expect(shardOf('org-1', 1)).toBe(0);
  });

  it('refuses a bad shard count, a braced key with shards, and a cluster node that is not a URL', () => {
    const resolve = (redis: object) => () =>
      resolveAuditOptions({ delivery: 'redis', redis: { url: 'redis://r:6379', ...redis } });
    expect(resolve({ shards: 0 })).toThrow(
      'redis.shards (AUDIT_REDIS_SHARDS) must be an integer from 1 to 64',
    );
    expect(resolve({ shards: 1.5 })).toThrow('must be an integer from 1 to 64, got 1.5');
    expect(resolve({ shards: 4, streamKey: '{a}' })).toThrow('redis.streamKey must not contain { or }');
    expect(resolve({ cluster: ['10.0.0.1:7000'] })).toThrow('"10.0.0.1:7000" is not a redis://host:port URL');
    expect(resolve({ shards: 4 })).not.toThrow();
  });
});
