import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';

/** The syslog destination's settings: what each may hold, each problem naming its field. */

/** Syslog facilities by name (RFC 5424 §6.2.1); settings.facility takes the number or the name. */
export const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'audit',
  'alert',
  'clock',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;
/** 13, "log audit". */
const SETTINGS = [
  'host',
  'port',
  'transport',
  'tls',
  'facility',
  'appName',
  'hostname',
  'enterpriseId',
  'ca',
  'cert',
  'servername',
  'timeoutMs',
  'maxBatchEvents',
  'maxMessageBytes',
] as const;

/** Every problem of a syslog destination's settings and secret, each naming its field. */
export function syslogSettingsProblems(
  settings: Record<string, unknown>,
  secret: Record<string, string>,
): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(settings))
    if (!(SETTINGS as readonly string[]).includes(key))
      problems.push(
        `settings.${key} is not a syslog setting (known: ${SETTINGS.join(', ')}; certificate verification cannot be turned off)`,
      );
  for (const key of Object.keys(secret))
    if (key !== 'key')
      problems.push(`secret.${key} is not a syslog secret (only secret.key, with settings.cert)`);
  const host = settings.host;
  if (typeof host !== 'string' || !host)
    problems.push("settings.host is required (the receiver's host name or IP address)");
  else if (
    !isIP(host) &&
    !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(host)
  )
    problems.push('settings.host must be a host name or an IP address (no scheme, port or path)');
  if (settings.port !== undefined && !isInteger(settings.port, 1, 65535))
    problems.push(
      'settings.port must be an integer from 1 to 65535 (default 514, 6514 with tls, 2514 with relp)',
    );
  if (settings.transport !== undefined && settings.transport !== 'tcp' && settings.transport !== 'relp')
    problems.push(
      "settings.transport must be 'tcp' (syslog over TCP or TLS, the default) or 'relp' (RELP: every message acknowledged)",
    );
  if (settings.transport === 'relp' && settings.tls !== undefined && settings.tls !== false)
    problems.push(
      'settings.tls is not supported with settings.transport: relp (RELP runs over plain TCP here)',
    );
  if (settings.tls !== undefined && typeof settings.tls !== 'boolean')
    problems.push('settings.tls must be true or false');
  if (settings.facility !== undefined && facilityOf(settings.facility) === undefined)
    problems.push(`settings.facility must be 0-23 or a name (${FACILITIES.join(', ')}); default 13 (audit)`);
  if (settings.appName !== undefined && !printable(settings.appName, 48))
    problems.push('settings.appName must be 1-48 printable ASCII characters without spaces');
  if (settings.hostname !== undefined && !printable(settings.hostname, 255))
    problems.push('settings.hostname must be 1-255 printable ASCII characters without spaces');
  if (
    settings.enterpriseId !== undefined &&
    !(
      (typeof settings.enterpriseId === 'string' || typeof settings.enterpriseId === 'number') &&
      /^\d+(\.\d+)*$/.test(String(settings.enterpriseId))
    )
  )
    problems.push(
      'settings.enterpriseId must be an IANA private enterprise number (digits, optionally dotted: 32473.1)',
    );
  if (settings.timeoutMs !== undefined && !isInteger(settings.timeoutMs, 1000, 300_000))
    problems.push('settings.timeoutMs must be an integer from 1000 to 300000');
  if (settings.maxBatchEvents !== undefined && !isInteger(settings.maxBatchEvents, 1, 10_000))
    problems.push('settings.maxBatchEvents must be an integer from 1 to 10000');
  if (settings.maxMessageBytes !== undefined && !isInteger(settings.maxMessageBytes, 2048, 16 * 1024 * 1024))
    problems.push('settings.maxMessageBytes must be an integer from 2048 to 16777216');
  problems.push(...tlsProblems(settings, secret));
  return problems;
}

export function facilityOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 23) return value;
  if (typeof value === 'string') {
    const index = FACILITIES.indexOf(value as (typeof FACILITIES)[number]);
    if (index >= 0) return index;
  }
  return undefined;
}

const isInteger = (value: unknown, min: number, max: number) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/** Problems of the TLS material: each PEM parses, the client certificate and key belong together. */
function tlsProblems(settings: Record<string, unknown>, secret: Record<string, string>): string[] {
  const problems: string[] = [];
  const tls = settings.tls === true;
  for (const field of ['ca', 'cert', 'servername'] as const)
    if (settings[field] !== undefined && !tls) problems.push(`settings.${field} needs settings.tls: true`);
  if (settings.ca !== undefined) {
    if (typeof settings.ca !== 'string' || !certificates(settings.ca))
      problems.push('settings.ca must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)');
  }
  let certificate: X509Certificate | undefined;
  if (settings.cert !== undefined) {
    certificate = typeof settings.cert === 'string' ? certificates(settings.cert)?.[0] : undefined;
    if (!certificate)
      problems.push('settings.cert must be a PEM client certificate (-----BEGIN CERTIFICATE-----)');
    if (typeof secret.key !== 'string' || !secret.key)
      problems.push("secret.key is required with settings.cert (the client certificate's PEM private key)");
  }
  if (secret.key !== undefined && secret.key !== '') {
    if (settings.cert === undefined) problems.push('secret.key needs settings.cert (its client certificate)');
    else {
      try {
        const key = createPrivateKey(secret.key);
        if (certificate && !certificate.checkPrivateKey(key))
          problems.push('secret.key is not the private key of settings.cert');
      } catch {
        problems.push('secret.key must be a PEM private key (unencrypted)');
      }
    }
  }
  if (settings.servername !== undefined) {
    if (typeof settings.servername !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(settings.servername))
      problems.push("settings.servername must be a DNS name (the name the receiver's certificate carries)");
  }
  return problems;
}

/** The certificates of a PEM bundle, or undefined when it holds none or one does not parse. */
function certificates(pem: string): X509Certificate[] | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return undefined;
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    return undefined;
  }
}

function printable(value: unknown, max: number): boolean {
  return (
    typeof value === 'string' && value.length >= 1 && value.length <= max && /^[\x21-\x7e]+$/.test(value)
  );
}
