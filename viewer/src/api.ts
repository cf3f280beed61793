/** The admin API, called with the reader's own identity: a Bearer token they pasted, or the app's cookies. */
export const API_BASE =
  document.querySelector('meta[name="audit-api"]')?.getAttribute('content')?.replace(/\/+$/, '') ?? '/audit';

const TOKEN_KEY = 'audit-viewer-token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set(token: string) {
    sessionStorage.setItem(TOKEN_KEY, token.trim().replace(/^Bearer\s+/i, ''));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly messages: string[],
  ) {
    super(messages.join('; ') || `HTTP ${status}`);
  }
}

/** Fired on a 401: the app shows the sign-in form. */
export const UNAUTHORIZED = 'audit:unauthorized';

export function apiUrl(path: string, params: Record<string, string | number | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== '') query.set(name, String(value));
  const text = query.toString();
  return `${API_BASE}/${path.replace(/^\/+/, '')}${text ? `?${text}` : ''}`;
}

function headers(accept: string): Record<string, string> {
  const token = session.token();
  return { accept, ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

async function failure(response: Response, quiet = false): Promise<ApiError> {
  let messages: string[];
  try {
    const body = (await response.json()) as { message?: string | string[] };
    messages = Array.isArray(body.message) ? body.message : body.message ? [body.message] : [];
  } catch {
    messages = [response.statusText];
  }
  if (response.status === 401 && !quiet) window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
  return new ApiError(response.status, messages);
}

/** GET a JSON resource of the admin API. */
export async function getJson<T>(
  path: string,
  params: Record<string, string | number | undefined> = {},
  signal?: AbortSignal,
  /** `quiet`: a 401 is not announced (a speculative request: the identity check announces it). */
  options: { quiet?: boolean } = {},
): Promise<T> {
  const response = await fetch(apiUrl(path, params), {
    headers: headers('application/json'),
    credentials: 'same-origin',
    signal,
  });
  if (!response.ok) throw await failure(response, options.quiet);
  return (await response.json()) as T;
}

/** POST a JSON body to the admin API; the JSON answer. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(apiUrl(path), {
    method: 'POST',
    headers: { ...headers('application/json'), 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

/** GET a streamed resource (export, verify progress): the response, its body still to read. */
export async function getStream(
  path: string,
  params: Record<string, string | number | undefined>,
  accept: string,
  signal?: AbortSignal,
): Promise<Response> {
  const response = await fetch(apiUrl(path, params), {
    headers: headers(accept),
    credentials: 'same-origin',
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response;
}

/** Lines of an NDJSON stream, as they arrive. */
export async function* ndjsonLines(response: Response): AsyncGenerator<unknown> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) yield JSON.parse(line);
  }
  if (rest.trim()) yield JSON.parse(rest);
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 403) return `Refused: ${error.message}`;
    if (error.status === 404) return `Not found: ${error.message}`;
    return error.message;
  }
  return 'The audit API could not be reached.';
}

// The admin API's shapes, as the viewer reads them.
export interface AuditEvent {
  id: string;
  occurredAt: string;
  organizationId: string | null;
  actorId: string | null;
  actorType: string;
  action: string;
  eventType: string;
  resourceType: string | null;
  resourceId: string | null;
  before: unknown;
  after: unknown;
  changes: Array<{
    path: string;
    before?: unknown;
    after?: unknown;
    redacted?: boolean;
    added?: unknown[];
    removed?: unknown[];
  }> | null;
  status: string;
  statusCode: number | null;
  errorMessage: string | null;
  severity: string;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  route: string | null;
  method: string | null;
  durationMs: number | null;
  metadata: unknown;
  /** Why the change was made (X-Audit-Reason, a body field, or a job's context), when given. */
  reason?: string | null;
  /** The database transaction of a mutation (transactional capture). */
  transactionId?: string | null;
}

export interface EventPage {
  items: AuditEvent[];
  nextCursor: string | null;
}

export interface Identity {
  sub: string;
  org: string | null;
  roles: string[];
}

export const canReadAll = (me: Identity) => me.roles.includes('audit:read:all');
export const isAdmin = (me: Identity) => me.roles.includes('audit:admin');
