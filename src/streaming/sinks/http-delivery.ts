import { DeliveryError } from '../streaming.types';

const DEFAULT_TIMEOUT_MS = 15_000;
/** Longest wait a receiver's Retry-After can ask for; longer is capped (the streamer retries anyway). */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

export interface HttpPost {
  url: string;
  body: string | Buffer;
  headers: Record<string, string>;
  timeoutMs?: number;
}

/**
 * POSTs a batch and maps the answer to delivery semantics: 2xx delivered; 401/403 (credentials) and 404/405
 * (endpoint) pause the destination; 408, 425, 429 and 5xx are retried (after Retry-After when given); any
 * other 4xx rejects this content. Network errors and timeouts are retried. The receiver's body is read
 * (bounded) for the message only: never logged with the request.
 */
export async function postBatch(request: HttpPost): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body as RequestInit['body'],
      redirect: 'error',
      signal: AbortSignal.timeout(request.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : networkReason(error);
    throw new DeliveryError(`POST ${origin(request.url)} ${reason}`, 'retry', { cause: error });
  }
  if (response.ok) return response;
  const detail = await excerpt(response);
  const message = `POST ${origin(request.url)} answered ${response.status}${detail ? `: ${detail}` : ''}`;
  throw new DeliveryError(message, failureOf(response.status), {
    statusCode: response.status,
    retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
  });
}

export function failureOf(status: number): 'retry' | 'reject' | 'pause' {
  if (status === 401 || status === 403 || status === 404 || status === 405) return 'pause';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'reject';
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = /^\s*\d+\s*$/.test(header) ? Number(header) * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(Math.max(seconds, 0), MAX_RETRY_AFTER_MS);
}

/** Scheme, host and port: never the path or query (which may carry a token). */
export function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ? `failed (${cause.code})` : 'failed';
}

/** The start of the receiver's answer, one line, printable, bounded. */
async function excerpt(response: Response): Promise<string> {
  try {
    const text = await response.text();
    return text
      .slice(0, 200)
      .replace(/[^\x20-\x7e]+/g, ' ')
      .trim();
  } catch {
    return '';
  }
}

/** The problem with `value` as an http(s) URL setting, or null. */
export function urlProblem(field: string, value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return `${field} is required (an http or https URL)`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} must be an http or https URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${field} must be an http or https URL`;
  if (url.username || url.password) return `${field} must not carry credentials (use the secret)`;
  return null;
}

export function hostOf(value: unknown): string[] {
  try {
    return typeof value === 'string' ? [new URL(value).hostname] : [];
  } catch {
    return [];
  }
}
