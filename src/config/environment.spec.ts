import { DEFAULT_PERSONAL_KEYS } from '../audit';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigError,
  DEV_JWT_SECRET,
  DEV_PERSONAL_DATA_KEY,
  DEV_SIGNING_KEY,
  loadConfig,
} from './environment';

/** The ConfigError thrown for `env`, or a failure when none is thrown. */
function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('uses the defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      databaseUrl: undefined,
      databasePoolMax: 20,
      dataDir: '.data',
      embeddedPgPort: 54329,
      redisUrl: undefined,
      jwtSecret: DEV_JWT_SECRET,
      jwtSecretIsDevDefault: true,
      logLevel: 'log',
      audit: {
        enabled: true,
        delivery: 'memory',
        stream: {
          key: 'audit:events',
          consumers: 2,
          maxLength: 1_000_000,
          claimIdleMs: 30_000,
          shards: 1,
          clusterNodes: null,
        },
        spool: { directory: '.data/spool', maxBytes: 1024 * 1024 * 1024, fsync: 'always' },
        overflow: 'drop',
        overflowBlockMs: 100,
        criticalActions: ['delete', 'export', 'erase'],
        criticalEventTypes: [],
        criticalSeverities: ['critical'],
        batchSize: 2000,
        flushIntervalMs: 250,
        maxBuffer: 50000,
        maxBufferBytes: 32 * 1024 * 1024,
        flushConcurrency: 2,
        drainTimeoutMs: 10000,
        maxStateBytes: 65536,
        trustedProxies: [],
        partitionPremake: 3,
        readyMaxLagMs: 60000,
        partitionGranularity: 'monthly',
        partitionIntervalMs: 3600000,
        partitionHorizonDays: 366,
      },
      archive: {
        url: pathToFileURL(resolve('.data', 'archive')).href,
        s3Endpoint: undefined,
        s3ForcePathStyle: false,
        s3Region: 'us-east-1',
        hotDays: 90,
        warmDays: 365,
        retentionDays: 2557,
        intervalMs: 3600000,
        compression: 'gzip',
        format: 'ndjson',
        exportStreams: 2,
        spoolDir: tmpdir(),
        warmTablespace: undefined,
      },
      integrity: {
        signingKey: DEV_SIGNING_KEY,
        signingKeyIsDevDefault: true,
        verifyKeys: [],
        checkpointIntervalMs: 3600000,
        headIntervalMs: 60000,
      },
      personalData: {
        encryptionKey: Buffer.from(DEV_PERSONAL_DATA_KEY, 'base64'),
        encryptionKeyIsDevDefault: true,
        keys: DEFAULT_PERSONAL_KEYS,
      },
      query: { cacheTtlSeconds: 15, cachePrefix: 'audit:cache:', statsRefreshMs: 300000 },
      replicas: { urls: [], maxLagMs: 10000, checkIntervalMs: 5000 },
    });
  });

  it('reads the replica URLs, and names a bad one by position and scheme only', () => {
    const config = loadConfig({
      AUDIT_REPLICA_URLS: 'postgres://reader:pw@replica-1:5432/app, postgresql://replica-2/app',
      AUDIT_REPLICA_MAX_LAG_MS: '3000',
    });
    expect(config.replicas).toEqual({
      urls: ['postgres://reader:pw@replica-1:5432/app', 'postgresql://replica-2/app'],
      maxLagMs: 3000,
      checkIntervalMs: 5000,
    });
    expect(() => loadConfig({ AUDIT_REPLICA_URLS: 'replica-1:5432' })).toThrow(
      'AUDIT_REPLICA_URLS[0] (replica-1:...) must be a postgres:// URL with a host',
    );
    expect(() => loadConfig({ AUDIT_REPLICA_MAX_LAG_MS: '10' })).toThrow(/AUDIT_REPLICA_MAX_LAG_MS/);
  });

  it('reads valid values, converting numbers and splitting the proxy list', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgresql://app@db:5432/audit',
      AUTH_JWT_SECRET: 's'.repeat(32),
      AUDIT_BATCH_SIZE: '500',
      DATABASE_POOL_MAX: '8',
      AUDIT_READY_MAX_LAG_MS: '5000',
      AUDIT_TRUSTED_PROXIES: 'loopback, 10.0.0.0/8 ,::1',
      AUDIT_DISABLED: 'true',
    });
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBe('postgresql://app@db:5432/audit');
    expect(config.jwtSecret).toBe('s'.repeat(32));
    expect(config.jwtSecretIsDevDefault).toBe(false);
    expect(config.audit.batchSize).toBe(500);
    expect(config.audit.readyMaxLagMs).toBe(5000);
    expect(config.audit.trustedProxies).toEqual(['loopback', '10.0.0.0/8', '::1']);
    expect(config.audit.enabled).toBe(false);
  });

  it.each(['gzip', 'zstd', 'brotli'])('accepts ARCHIVE_COMPRESSION=%s', (compression) => {
    expect(loadConfig({ ARCHIVE_COMPRESSION: compression }).archive.compression).toBe(compression);
  });

  it('exports with 2 streams unless ARCHIVE_EXPORT_STREAMS says otherwise', () => {
    expect(loadConfig({}).archive.exportStreams).toBe(2);
    expect(loadConfig({ ARCHIVE_EXPORT_STREAMS: '1' }).archive.exportStreams).toBe(1);
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig({
      PORT: '',
      DATABASE_URL: '',
      AUTH_JWT_SECRET: '',
      AUDIT_DELIVERY: '',
      AUDIT_TRUSTED_PROXIES: '',
    });
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.jwtSecretIsDevDefault).toBe(true);
    expect(config.audit.delivery).toBe('memory');
    expect(config.audit.trustedProxies).toEqual([]);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '0'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_POOL_MAX', '1'],
    ['DATABASE_POOL_MAX', 'ten'],
    ['AUDIT_DELIVERY', 'redis'],
    ['AUDIT_BATCH_SIZE', '0'],
    ['AUDIT_BATCH_SIZE', '12.5'],
    ['AUDIT_MAX_BUFFER_MB', '0'],
    ['AUTH_JWT_SECRET', 'too-short'],
    ['AUDIT_DISABLED', 'yes'],
    ['AUDIT_READY_MAX_LAG_MS', '999'],
    ['AUDIT_READY_MAX_LAG_MS', '1m'],
    ['AUDIT_TRUSTED_PROXIES', 'not-an-ip'],
    ['AUDIT_TRUSTED_PROXIES', '10.0.0.1, localhost'],
    ['AUDIT_TRUSTED_PROXIES', '300.1.1.1'],
    ['AUDIT_TRUSTED_PROXIES', '10.0.0.0/64'],
    ['AUDIT_PARTITION_GRANULARITY', 'yearly'],
    ['AUDIT_PARTITION_HORIZON_DAYS', '0'],
    ['ARCHIVE_URL', 'ftp://host/x'],
    ['ARCHIVE_URL', 'file://relative'],
    ['ARCHIVE_S3_ENDPOINT', 'not a url'],
    ['ARCHIVE_S3_FORCE_PATH_STYLE', 'yes'],
    ['ARCHIVE_HOT_DAYS', '0'],
    ['ARCHIVE_COMPRESSION', 'zip'],
    ['ARCHIVE_EXPORT_STREAMS', '0'],
    ['ARCHIVE_EXPORT_STREAMS', '9'],
    ['ARCHIVE_WARM_TABLESPACE', 'bad name;'],
  ])('rejects %s=%j with a ConfigError naming the variable', (name, value) => {
    const error = configErrorOf({ [name]: value });
    expect(error.name).toBe('ConfigError');
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) expect(problem).toMatch(new RegExp(`^${name}\\b`));
    expect(error.message).toContain(name);
  });

  it('lists every bad variable at once', () => {
    const error = configErrorOf({
      PORT: 'abc',
      DATABASE_URL: 'mysql://x',
      AUDIT_DELIVERY: 'redis',
      AUTH_JWT_SECRET: 'short',
      AUDIT_TRUSTED_PROXIES: 'not-an-ip',
    });
    const named = new Set(error.problems.map((problem) => problem.split(/[ :]/)[0]));
    expect([...named].sort()).toEqual([
      'AUDIT_DELIVERY',
      'AUDIT_TRUSTED_PROXIES',
      'AUTH_JWT_SECRET',
      'DATABASE_URL',
      'PORT',
    ]);
    for (const name of named) expect(error.message).toContain(name);
  });

  it('reads the delivery settings: redis mode, stream, spool, overflow and critical events', () => {
    const config = loadConfig({
      AUDIT_DELIVERY: 'redis',
      REDIS_URL: 'redis://cache:6379/2',
      AUDIT_STREAM_KEY: 'svc:audit',
      AUDIT_STREAM_CONSUMERS: '0',
      AUDIT_SPOOL_DIR: '/var/spool/audit',
      AUDIT_SPOOL_MAX_MB: '16',
      AUDIT_SPOOL_FSYNC: 'never',
      AUDIT_OVERFLOW: 'block',
      AUDIT_CRITICAL_ACTIONS: 'delete,login',
      AUDIT_CRITICAL_SEVERITIES: 'warning,critical',
    });
    expect(config.audit).toMatchObject({
      delivery: 'redis',
      stream: { key: 'svc:audit', consumers: 0 },
      spool: { directory: '/var/spool/audit', maxBytes: 16 * 1024 * 1024, fsync: 'never' },
      overflow: 'block',
      criticalActions: ['delete', 'login'],
      criticalSeverities: ['warning', 'critical'],
    });
    expect(configErrorOf({ AUDIT_CRITICAL_SEVERITIES: 'urgent' }).message).toContain(
      'AUDIT_CRITICAL_SEVERITIES',
    );
    expect(configErrorOf({ AUDIT_SPOOL_FSYNC: 'sometimes' }).message).toContain('AUDIT_SPOOL_FSYNC');
  });

  it('reads the stream shards and cluster nodes, refusing a bad shard count or a hash tag in the key', () => {
    const config = loadConfig({
      AUDIT_DELIVERY: 'redis',
      AUDIT_REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000,redis://10.0.0.2:7000',
      AUDIT_REDIS_SHARDS: '8',
    });
    expect(config.audit.stream).toMatchObject({
      shards: 8,
      clusterNodes: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'],
    });
    for (const shards of ['0', '65', '2.5', 'many']) {
      expect(configErrorOf({ AUDIT_REDIS_SHARDS: shards }).message).toContain(
        'AUDIT_REDIS_SHARDS must be an integer from 1 to 64',
      );
    }
    expect(configErrorOf({ AUDIT_REDIS_CLUSTER_NODES: '10.0.0.1:7000' }).message).toContain(
      'AUDIT_REDIS_CLUSTER_NODES must be comma-separated redis://host:port URLs',
    );
    expect(configErrorOf({ AUDIT_REDIS_SHARDS: '4', AUDIT_STREAM_KEY: '{audit}:events' }).message).toContain(
      'AUDIT_STREAM_KEY must not contain { or }',
    );
    expect(configErrorOf({ AUDIT_DELIVERY: 'redis' }).message).toContain(
      'needs REDIS_URL (or AUDIT_REDIS_CLUSTER_NODES)',
    );
  });

  it('reads the archive settings and requires hot < warm < retention', () => {
    const config = loadConfig({
      ARCHIVE_URL: 's3://audit-bucket/trail',
      ARCHIVE_S3_ENDPOINT: 'http://127.0.0.1:9000',
      ARCHIVE_S3_FORCE_PATH_STYLE: 'true',
      ARCHIVE_HOT_DAYS: '30',
      AUDIT_PARTITION_GRANULARITY: 'daily',
    });
    expect(config.archive).toMatchObject({
      url: 's3://audit-bucket/trail',
      s3Endpoint: 'http://127.0.0.1:9000',
      s3ForcePathStyle: true,
      hotDays: 30,
    });
    expect(config.audit.partitionGranularity).toBe('daily');
    expect(configErrorOf({ ARCHIVE_HOT_DAYS: '400' }).message).toContain('ARCHIVE_HOT_DAYS (400)');
  });

  it('requires AUTH_JWT_SECRET in production with a real database', () => {
    const error = configErrorOf({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/audit' });
    expect(error.message).toContain('AUTH_JWT_SECRET');
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/audit',
        AUTH_JWT_SECRET: 's'.repeat(32),
        AUDIT_SIGNING_KEY: Buffer.alloc(32, 1).toString('base64'),
        AUDIT_PERSONAL_DATA_KEY: Buffer.alloc(32, 2).toString('base64'),
      }),
    ).not.toThrow();
  });

  it('reads the personal-data key and key names, and turns protection off on request', () => {
    const key = Buffer.alloc(32, 9);
    expect(
      loadConfig({ AUDIT_PERSONAL_DATA_KEY: key.toString('hex'), AUDIT_PERSONAL_KEYS: 'email,full_name' })
        .personalData,
    ).toEqual({ encryptionKey: key, encryptionKeyIsDevDefault: false, keys: ['email', 'full_name'] });
    expect(loadConfig({ AUDIT_PERSONAL_KEYS: 'off' }).personalData).toBeNull();
    expect(configErrorOf({ AUDIT_PERSONAL_DATA_KEY: 'c2hvcnQ=' }).problems).toEqual([
      'AUDIT_PERSONAL_DATA_KEY must be 32 bytes as base64 or 64 hex digits',
    ]);
    expect(configErrorOf({ AUDIT_PERSONAL_KEYS: 'email;name' }).message).toContain('AUDIT_PERSONAL_KEYS');
    expect(configErrorOf({ AUDIT_PERSONAL_KEYS: 'email**' }).message).toContain('AUDIT_PERSONAL_KEYS');
    // The patterns of the defaults can be written in the variable too.
    expect(loadConfig({ AUDIT_PERSONAL_KEYS: 'email*,~ip,name' }).personalData?.keys).toEqual([
      'email*',
      '~ip',
      'name',
    ]);
    expect(
      configErrorOf({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/x',
        AUTH_JWT_SECRET: 's'.repeat(32),
        AUDIT_SIGNING_KEY: Buffer.alloc(32, 1).toString('base64'),
      }).problems,
    ).toEqual([
      'AUDIT_PERSONAL_DATA_KEY is required when NODE_ENV=production (or set AUDIT_PERSONAL_KEYS=off)',
    ]);
  });

  it('requires a valid Ed25519 signing key, and one in production', () => {
    expect(configErrorOf({ AUDIT_SIGNING_KEY: 'not-a-key' }).problems).toEqual([
      'AUDIT_SIGNING_KEY must be an Ed25519 private key: a PKCS#8 PEM or a base64 32-byte seed',
    ]);
    expect(
      configErrorOf({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/x',
        AUTH_JWT_SECRET: 's'.repeat(32),
        AUDIT_PERSONAL_KEYS: 'off',
      }).problems,
    ).toEqual(['AUDIT_SIGNING_KEY is required when NODE_ENV=production']);
    expect(configErrorOf({ AUDIT_VERIFY_KEYS: 'abc' }).problems[0]).toMatch(/^AUDIT_VERIFY_KEYS/);
    const seed = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ AUDIT_SIGNING_KEY: seed }).integrity).toMatchObject({
      signingKey: seed,
      signingKeyIsDevDefault: false,
    });
  });
});
