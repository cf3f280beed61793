import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { SINK_KINDS } from './sinks';
import {
  DESTINATION_FORMATS,
  DESTINATION_KINDS,
  DestinationFormat,
  DestinationKind,
  PersonalDataPolicy,
} from './streaming.types';

/** A destination as asked for (admin API body or configuration), before validation. */
export interface DestinationInput {
  name?: unknown;
  kind?: unknown;
  format?: unknown;
  organizationId?: unknown;
  settings?: unknown;
  secret?: unknown;
  personalData?: unknown;
  startFrom?: unknown;
  batchSize?: unknown;
}

export interface ValidDestination {
  name: string;
  kind: DestinationKind;
  format: DestinationFormat;
  settings: Record<string, unknown>;
  secret: Record<string, string>;
  personalData: PersonalDataPolicy;
  startFrom: Date | null;
  batchSize: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_SETTINGS_BYTES = 32 * 1024;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every problem of a destination, each naming its field; the valid destination when there is none. */
export function validateDestination(input: DestinationInput): {
  problems: string[];
  value?: ValidDestination;
} {
  const problems: string[] = [];
  if (typeof input.name !== 'string' || !NAME.test(input.name))
    problems.push(
      'name must be 1-100 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    );
  const kind = input.kind as DestinationKind;
  if (!DESTINATION_KINDS.includes(kind)) problems.push(`kind must be one of ${DESTINATION_KINDS.join(', ')}`);
  const format = (input.format ?? 'json') as DestinationFormat;
  if (!DESTINATION_FORMATS.includes(format))
    problems.push(`format must be one of ${DESTINATION_FORMATS.join(', ')}`);
  else if (DESTINATION_KINDS.includes(kind) && !SINK_KINDS[kind].formats.includes(format))
    problems.push(`format ${format} is not available for ${kind} (${SINK_KINDS[kind].formats.join(', ')})`);
  const settings = input.settings ?? {};
  if (!isObject(settings)) problems.push('settings must be an object');
  else if (JSON.stringify(settings).length > MAX_SETTINGS_BYTES)
    problems.push('settings must be at most 32 KiB');
  const secret = input.secret ?? {};
  if (!isObject(secret) || Object.values(secret).some((value) => typeof value !== 'string'))
    problems.push('secret must be an object of strings');
  const personalData = (input.personalData ?? 'encrypted') as PersonalDataPolicy;
  if (personalData !== 'encrypted' && personalData !== 'clear')
    problems.push('personalData must be encrypted or clear');
  let startFrom: Date | null = null;
  if (input.startFrom !== undefined && input.startFrom !== null) {
    startFrom = input.startFrom instanceof Date ? input.startFrom : new Date(String(input.startFrom));
    if (Number.isNaN(startFrom.getTime())) problems.push('startFrom must be an ISO 8601 timestamp');
  }
  const batchSize = input.batchSize ?? 500;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    problems.push('batchSize must be an integer from 1 to 10000');
  if (problems.length === 0) {
    problems.push(
      ...SINK_KINDS[kind].validate(settings as Record<string, unknown>, secret as Record<string, string>),
    );
  }
  if (problems.length) return { problems };
  return {
    problems,
    value: {
      name: input.name as string,
      kind,
      format,
      settings: settings as Record<string, unknown>,
      secret: secret as Record<string, string>,
      personalData,
      startFrom,
      batchSize: batchSize as number,
    },
  };
}

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv6');

/**
 * The hosts of these settings that are, or resolve to, loopback, private, link-local or otherwise internal
 * addresses (so that an organization admin cannot make the service call into the internal network). A host
 * that does not resolve is reported too: it cannot be checked.
 */
export async function internalHosts(
  kind: DestinationKind,
  settings: Record<string, unknown>,
): Promise<string[]> {
  const found: string[] = [];
  for (const host of SINK_KINDS[kind].hosts(settings)) {
    const bare = host.replace(/^\[|\]$/g, '');
    let addresses: string[];
    if (isIP(bare)) addresses = [bare];
    else {
      try {
        addresses = (await lookup(bare, { all: true })).map((entry) => entry.address);
      } catch {
        found.push(`${host} (does not resolve)`);
        continue;
      }
    }
    if (addresses.some((address) => PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')))
      found.push(host);
  }
  return found;
}
