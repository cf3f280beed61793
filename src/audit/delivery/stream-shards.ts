/** The keys of one shard of the stream: the stream and its dead-letter stream, in one cluster slot. */
export interface StreamShard {
  stream: string;
  deadLetter: string;
}

/**
 * The stream's shards. One shard on a single Redis: `streamKey` and `streamKey:dead`, the names of every
 * release before sharding. Otherwise (several shards, or a Redis Cluster) shard i is `{streamKey:i}` and
 * `{streamKey:i}:dead`: the hash tag puts both in one slot (the consumer writes both), and different
 * shards in different slots, so they spread over the cluster's masters.
 */
export function streamShards(streamKey: string, shards: number, cluster: boolean): StreamShard[] {
  if (shards === 1 && !cluster) return [{ stream: streamKey, deadLetter: `${streamKey}:dead` }];
  return Array.from({ length: shards }, (_, i) => {
    const stream = `{${streamKey}:${i}}`;
    return { stream, deadLetter: `${stream}:dead` };
  });
}

/**
 * The shard of an organization: always the same one for a given shard count, so an organization's events
 * stay in one stream, in order. FNV-1a over the id; events without an organization go to shard 0.
 */
export function shardOf(organizationId: string | null, shards: number): number {
  if (shards === 1 || organizationId === null) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < organizationId.length; i++) {
    hash ^= organizationId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
