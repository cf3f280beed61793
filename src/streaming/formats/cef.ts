import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isIPv4, isIPv6 } from 'node:net';
import { StreamEvent } from '../streaming.types';

/**
 * ArcSight Common Event Format (CEF), revision 25 of "Implementing ArcSight CEF":
 * `CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|Extension`, one line per event.
 */
export const CEF_VENDOR = 'nest-audit-trail';
export const CEF_PRODUCT = 'audit-trail';

/** Our severities on CEF's 0-10 scale (0-3 Low, 4-6 Medium, 7-8 High, 9-10 Very-High). */
export const CEF_SEVERITY: Readonly<Record<string, number>> = {
  info: 3,
  notice: 5,
  warning: 7,
  critical: 10,
};

/** Lengths the CEF spec gives its fields; longer values are cut (at a code point) before escaping. */
const MAX = { signatureId: 1023, name: 512, msg: 1023, short: 1023, custom: 4000, act: 63 } as const;

/** The package's own version (Device Version), read once from its package.json; '0' if not found. */
let productVersion: string | undefined;
export function cefProductVersion(): string {
  if (productVersion !== undefined) return productVersion;
  productVersion = '0';
  // src/streaming/formats in the repository, dist/src/streaming/formats once built and installed.
  for (let dir = __dirname, i = 0; i < 6; dir = dirname(dir), i++) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === CEF_VENDOR && typeof pkg.version === 'string') productVersion = pkg.version;
    } catch {
      // an unreadable package.json: keep looking up
    }
    if (productVersion !== '0') break;
  }
  return productVersion;
}

/**
 * A header field: `\` and `|` escaped with a backslash. The spec allows no line breaks in the header, so
 * CR, LF and the other control characters become a space.
 */
export function escapeCefHeader(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/[\\|]/g, (c) => `\\${c}`);
}

/**
 * An extension value: `\` and `=` escaped with a backslash, a line feed as `\n` and a carriage return as
 * `\r` (the spec's multi-line values); `|` needs no escape there. Other control characters (tab, NUL...),
 * which the spec does not provide for and syslog receivers mangle, become a space.
 */
export function escapeCefValue(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\\=\n\r\x00-\x1f\x7f]/g, (c) => {
    if (c === '\\' || c === '=') return `\\${c}`;
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    return ' ';
  });
}

/** At most `max` UTF-16 units, never half of a surrogate pair, with `…` when cut. */
export function bounded(value: string, max: number): string {
  if (value.length <= max) return value;
  let cut = value.slice(0, max - 1);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** The event as one CEF line (no line break at the end). */
export function toCefLine({ event, sealSeq }: StreamEvent): string {
  const severity = CEF_SEVERITY[event.severity] ?? CEF_SEVERITY.info;
  const header = [
    'CEF:0',
    escapeCefHeader(CEF_VENDOR),
    escapeCefHeader(CEF_PRODUCT),
    escapeCefHeader(cefProductVersion()),
    escapeCefHeader(bounded(event.eventType || event.action, MAX.signatureId)),
    escapeCefHeader(bounded(cefName(event), MAX.name)),
    String(severity),
  ].join('|');
  return `${header}|${cefExtension(event, sealSeq)}`;
}

type Event = StreamEvent['event'];

/** A short summary: `update invoice inv_42`, ` (failed)` when it failed. */
function cefName(event: Event): string {
  const resource = [event.resourceType, event.resourceId].filter((part) => part).join(' ');
  return `${event.action}${resource ? ` ${resource}` : ''}${event.status === 'failure' ? ' (failed)' : ''}`;
}

/** The extension: standard keys, then labelled custom strings; absent values are left out (with their label). */
function cefExtension(event: Event, sealSeq: string): string {
  const pairs: Array<[string, string | number | null | undefined]> = [];
  const rt = Date.parse(event.occurredAt);
  pairs.push(['rt', Number.isFinite(rt) ? rt : null]);
  pairs.push(['externalId', event.id]);
  pairs.push(['suser', clip(event.actorId, MAX.short)]);
  pairs.push(['act', clip(event.action, MAX.act)]);
  pairs.push(['outcome', event.status]);
  pairs.push(...sourceAddress(event.ip));
  pairs.push(['requestMethod', clip(event.method, MAX.short)]);
  pairs.push(['request', clip(event.route, MAX.short)]);
  pairs.push(['requestClientApplication', clip(event.userAgent, MAX.short)]);
  const custom: Array<[string, string, string | null]> = [
    ['cs1', 'organization', event.organizationId],
    ['cs2', 'resourceType', event.resourceType],
    ['cs3', 'resourceId', event.resourceId],
    ['cs4', 'requestId', event.requestId],
    ['cs5', 'reason', event.reason],
  ];
  for (const [key, label, value] of custom)
    if (value !== null && value !== undefined && value !== '')
      pairs.push([`${key}Label`, label], [key, clip(value, MAX.custom)]);
  pairs.push(['cn1Label', 'chainSeq'], ['cn1', sealSeq]);
  pairs.push(['msg', clip(summaryMessage(event), MAX.msg)]);
  return pairs
    .filter(
      (pair): pair is [string, string | number] =>
        pair[1] !== null && pair[1] !== undefined && pair[1] !== '',
    )
    .map(([key, value]) => `${key}=${escapeCefValue(String(value))}`)
    .join(' ');
}

function clip(value: string | null | undefined, max: number): string | null {
  return typeof value === 'string' ? bounded(value, max) : null;
}

/** `src` takes an IPv4 address only (an IPv4-mapped IPv6 one is unwrapped); IPv6 goes to `c6a2`, Source IPv6 Address. */
function sourceAddress(ip: string | null): Array<[string, string]> {
  if (!ip) return [];
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (isIPv4(ip) || (mapped && isIPv4(mapped[1]))) return [['src', mapped ? mapped[1] : ip]];
  if (isIPv6(ip))
    return [
      ['c6a2Label', 'Source IPv6 Address'],
      ['c6a2', ip],
    ];
  return [];
}

/** `msg`: the changed fields' names (`changed: plan, address.city`), and the error of a failure. */
function summaryMessage(event: Event): string {
  const parts: string[] = [];
  const changes = Array.isArray(event.changes) ? (event.changes as Array<{ path?: unknown }>) : [];
  const paths = changes
    .map((change) => change?.path)
    .filter((path): path is string => typeof path === 'string');
  if (paths.length) parts.push(`changed: ${paths.join(', ')}`);
  if (event.status === 'failure' && event.errorMessage) parts.push(`error: ${event.errorMessage}`);
  return parts.join('; ');
}
