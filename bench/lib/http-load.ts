import autocannon from 'autocannon';
import { PLANS } from '../../demo/accounts/dto/account.dto';

/** Flag defaults shared by the HTTP benchmarks (overhead, compare). */
export const HTTP_LOAD_FLAGS = {
  duration: 10,
  warmup: 3,
  reps: 3,
  connections: 20,
  accounts: 1000,
};

export interface LoadOptions {
  baseUrl: string;
  token: string;
  connections: number;
  durationSeconds: number;
}

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** One autocannon run of a request sequence against a running service. */
export async function runLoad(options: LoadOptions, request: autocannon.Request): Promise<LoadResult> {
  const result = await autocannon({
    url: options.baseUrl,
    connections: options.connections,
    duration: options.durationSeconds,
    headers: { authorization: `Bearer ${options.token}` },
    requests: [request],
  });
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** GET /accounts/:id, round-robin over the seeded accounts. */
export function getAccountRequest(ids: readonly string[]): autocannon.Request {
  let next = 0;
  return {
    method: 'GET',
    setupRequest: (request) => ({ ...request, path: `/accounts/${ids[next++ % ids.length]}` }),
  };
}

/** PATCH /accounts/:id, round-robin over the seeded accounts (see planUpdates). */
export function patchAccountRequest(ids: readonly string[]): autocannon.Request {
  const next = planUpdates(ids);
  return {
    method: 'PATCH',
    headers: JSON_HEADERS,
    setupRequest: (request) => ({ ...request, ...next() }),
  };
}

export const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Path and body of PATCH /accounts/:id, round-robin over the accounts; each pass over them sets the next plan,
 * so every PATCH really changes the account (a no-op update would not be audited). The counter lives in the
 * returned function: reuse it for every run, audited or not, as the services share the accounts.
 */
export function planUpdates(ids: readonly string[]): () => { path: string; body: string } {
  let next = 0;
  return () => {
    const n = next++;
    const plan = PLANS[(Math.floor(n / ids.length) + 1) % PLANS.length];
    return { path: `/accounts/${ids[n % ids.length]}`, body: JSON.stringify({ plan }) };
  };
}
