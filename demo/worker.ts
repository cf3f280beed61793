import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './bootstrap';
import { ConfigError, loadServiceConfig as loadConfig } from 'nest-audit-trail';

/**
 * `npm run worker`: a flush worker for Redis Streams delivery, as its own process (its own Deployment in
 * Kubernetes). It runs AUDIT_STREAM_CONSUMERS consumers of the group, the scheduled jobs, and serves only
 * /health and /metrics on PORT. The API processes can then run with AUDIT_STREAM_CONSUMERS=0.
 */
async function worker(): Promise<void> {
  let config;
  try {
    config = loadConfig();
    if (config.audit.delivery !== 'redis') {
      throw new ConfigError([
        'npm run worker needs AUDIT_DELIVERY=redis (and REDIS_URL or AUDIT_REDIS_CLUSTER_NODES)',
      ]);
    }
    if (config.audit.stream.consumers < 1) {
      throw new ConfigError(['AUDIT_STREAM_CONSUMERS must be at least 1 for a worker']);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const app = await createApp(config, 'worker');
  await app.listen(config.port);
  new Logger('Worker').log(
    `Flushing stream ${config.audit.stream.key} (${config.audit.stream.shards} shard(s)) with ${config.audit.stream.consumers} consumers per shard; health and metrics on :${config.port}`,
  );
}

worker().catch((error: unknown) => {
  new Logger('Worker').error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
