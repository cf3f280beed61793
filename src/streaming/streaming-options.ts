import { validateDestination } from './destination-policy';
import { DestinationFormat, DestinationKind, PersonalDataPolicy } from './streaming.types';

/** A destination from configuration (module options or AUDIT_STREAMING_DESTINATIONS). */
export interface StreamingDestinationConfig {
  /** Unique per organization; the destination keeps its cursor across restarts under this name. */
  name: string;
  kind: DestinationKind;
  /** Default `json` (`cef` for syslog is also possible; `ocsf` for any kind). */
  format?: DestinationFormat;
  /** Only this organization's events; omitted: every organization. */
  organizationId?: string | null;
  settings?: Record<string, unknown>;
  /** Secret settings (HMAC secret, token, API key...). Held in memory only, never stored. */
  secret?: Record<string, string>;
  /** `clear` only for a destination allowed to receive personal data decrypted. Default `encrypted`. */
  personalData?: PersonalDataPolicy;
  /** Deliver from this instant (a backfill); default: when the destination is first created. */
  startFrom?: string | Date;
  /** Events read per batch (the sink splits further to its own limit). Default 500. */
  batchSize?: number;
}

export interface AuditStreamingOptions {
  /**
   * Run the delivery loops in this process. Default true. Any number of processes may run them: each
   * destination is delivered by one at a time (a Postgres advisory lock), the others take over when it stops.
   */
  run?: boolean;
  /** Destinations from configuration; more can be added with the admin API. */
  destinations?: StreamingDestinationConfig[];
  /** How often idle destinations look for new sealed events. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Backoff between retries of a failed send: from `minMs`, doubling, up to `maxMs` (or the receiver's Retry-After). */
  retry?: { minMs?: number; maxMs?: number };
  /** The streaming health check is down when a destination is paused or its oldest undelivered event is older. Default 5 min. */
  readyMaxLagMs?: number;
  /**
   * Let organization admins point destinations at loopback, private and link-local addresses. Default false:
   * only platform operators (`audit:platform`) can (an internal collector), so that an organization cannot
   * make the service call into the internal network.
   */
  allowPrivateNetworks?: boolean;
  /**
   * Key that seals destinations' secrets in the database (32 bytes, base64 or hex). Default: the personal-data
   * encryption key. Without either, destinations with secrets can only come from configuration.
   */
  secretKey?: string | Buffer;
}

export interface ResolvedStreamingOptions {
  run: boolean;
  destinations: StreamingDestinationConfig[];
  pollIntervalMs: number;
  retry: { minMs: number; maxMs: number };
  readyMaxLagMs: number;
  allowPrivateNetworks: boolean;
  secretKey: Buffer | null;
}

export const AUDIT_STREAMING_OPTIONS = Symbol('AUDIT_STREAMING_OPTIONS');

/**
 * The streaming options from the environment:
 * - AUDIT_STREAMING: `on` (default) / `off` — run the delivery loops in this process;
 * - AUDIT_STREAMING_DESTINATIONS: a JSON array of StreamingDestinationConfig; a secret value written
 *   `env:NAME` is read from the variable NAME (keep secrets out of the JSON);
 * - AUDIT_STREAMING_POLL_MS, AUDIT_STREAMING_READY_MAX_LAG_MS, AUDIT_STREAMING_ALLOW_PRIVATE_NETWORKS
 *   (`true`/`false`), AUDIT_STREAMING_SECRET_KEY.
 * Throws an Error listing every problem, each naming its variable.
 */
export function streamingOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AuditStreamingOptions {
  const problems: string[] = [];
  const options: AuditStreamingOptions = {};
  const run = env.AUDIT_STREAMING;
  if (run !== undefined && run !== '') {
    if (run !== 'on' && run !== 'off') problems.push('AUDIT_STREAMING must be on or off');
    options.run = run === 'on';
  }
  const number = (name: string, min: number): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) problems.push(`${name} must be an integer >= ${min}`);
    return value;
  };
  options.pollIntervalMs = number('AUDIT_STREAMING_POLL_MS', 50);
  options.readyMaxLagMs = number('AUDIT_STREAMING_READY_MAX_LAG_MS', 1000);
  const allow = env.AUDIT_STREAMING_ALLOW_PRIVATE_NETWORKS;
  if (allow !== undefined && allow !== '') {
    if (allow !== 'true' && allow !== 'false')
      problems.push('AUDIT_STREAMING_ALLOW_PRIVATE_NETWORKS must be true or false');
    options.allowPrivateNetworks = allow === 'true';
  }
  if (env.AUDIT_STREAMING_SECRET_KEY) options.secretKey = env.AUDIT_STREAMING_SECRET_KEY;
  const json = env.AUDIT_STREAMING_DESTINATIONS;
  if (json) {
    try {
      const parsed = JSON.parse(json) as unknown;
      if (!Array.isArray(parsed)) throw new Error('not an array');
      options.destinations = parsed.map((entry, index) => withEnvSecrets(entry, index, env, problems));
    } catch (error) {
      problems.push(
        `AUDIT_STREAMING_DESTINATIONS must be a JSON array of destinations (${(error as Error).message})`,
      );
    }
  }
  if (problems.length === 0) problems.push(...streamingOptionsProblems(options));
  if (problems.length) throw new StreamingConfigError(problems);
  return options;
}

/**
 * The problems of streaming options that need nothing but themselves (poll interval, retry, every configured
 * destination with its name), checked when the module is declared so that a bad one stops the app before
 * it starts, with its message and no stack.
 */
export function streamingOptionsProblems(options: AuditStreamingOptions): string[] {
  const problems: string[] = [];
  const poll = options.pollIntervalMs;
  if (poll !== undefined && (!Number.isInteger(poll) || poll < 50))
    problems.push('streaming.pollIntervalMs must be an integer >= 50');
  const retry = options.retry;
  if (retry && !((retry.minMs ?? 500) >= 1 && (retry.maxMs ?? 30_000) >= (retry.minMs ?? 500)))
    problems.push('streaming.retry must have 1 <= minMs <= maxMs');
  const names = new Set<string>();
  (options.destinations ?? []).forEach((destination, index) => {
    const { problems: found } = validateDestination(destination);
    problems.push(
      ...found.map((problem) => `streaming.destinations[${index}] (${destination.name}): ${problem}`),
    );
    const key = `${destination.organizationId ?? ''}\u0000${destination.name}`;
    if (names.has(key))
      problems.push(`streaming.destinations[${index}]: the name ${destination.name} is used twice`);
    names.add(key);
  });
  return problems;
}

export class StreamingConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid streaming configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StreamingConfigError';
  }
}

function withEnvSecrets(
  entry: unknown,
  index: number,
  env: NodeJS.ProcessEnv,
  problems: string[],
): StreamingDestinationConfig {
  const destination = { ...(entry as StreamingDestinationConfig) };
  if (destination.secret && typeof destination.secret === 'object') {
    const secret: Record<string, string> = {};
    for (const [key, value] of Object.entries(destination.secret)) {
      const match = typeof value === 'string' ? /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value) : null;
      if (!match) {
        secret[key] = value;
        continue;
      }
      const fromEnv = env[match[1]];
      if (fromEnv === undefined || fromEnv === '')
        problems.push(`AUDIT_STREAMING_DESTINATIONS[${index}].secret.${key}: ${match[1]} is not set`);
      secret[key] = fromEnv ?? '';
    }
    destination.secret = secret;
  }
  return destination;
}
