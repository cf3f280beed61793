/**
 * The name a replica goes by in metrics, readiness and logs: `host:port/database`, never its credentials.
 * Null when `url` is not a `postgres://` URL with a host.
 */
export function replicaName(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol) || !parsed.hostname) return null;
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname.length > 1 ? parsed.pathname : '/'}`;
}

/**
 * Why the replica URLs cannot be used, one problem per bad URL (quoted without credentials), or none.
 * `source` names the setting in the messages (`replicas.urls`, `AUDIT_REPLICA_URLS`).
 */
export function replicaUrlProblems(urls: string[], source: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  urls.forEach((url, index) => {
    const name = replicaName(url);
    if (!name) {
      // Only the scheme is quoted: the rest may hold a password.
      const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? 'no scheme';
      problems.push(`${source}[${index}] (${scheme}...) must be a postgres:// URL with a host`);
    } else if (seen.has(name)) {
      problems.push(`${source}[${index}]: ${name} is listed twice`);
    }
    if (name) seen.add(name);
  });
  return problems;
}
