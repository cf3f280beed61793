import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { KeyObject } from 'node:crypto';
import { escapeCopyText } from 'src/audit/copy-format';
import { eventHash } from 'src/audit/integrity/event-hash';
import { jsonbText } from 'src/audit/integrity/jsonb-text';
import { orgKeyOf, SealLeaf } from 'src/audit/integrity/seal';
import { ArchiveIntegritySection } from 'src/integrity/archive-section';
import { ChainReport, ChainVerifier, StoredSeal } from 'src/integrity/chain-verifier';
import { VerifyReport } from 'src/integrity/database-verifier';

type Row = Record<string, unknown>;
const NULL = '\\N';
const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
const copyText = (v: unknown) => (v === null || v === undefined ? NULL : escapeCopyText(String(v)));
const copyJson = (v: unknown) =>
  v === null || v === undefined ? NULL : jsonbText(v).replaceAll('\\', '\\\\');
const copyInt = (v: unknown) => (v === null || v === undefined ? NULL : String(v));

/** `2026-03-01T12:34:56.789123+00:00` (row_to_json's timestamptz) as microseconds since the epoch. */
export function timestampMicros(value: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d(?::?\d\d)?)$/.exec(value);
  if (!m) throw new Error(`not a timestamp: ${value}`);
  const offset = m[3] === 'Z' ? 'Z' : m[3].length === 3 ? `${m[3]}:00` : m[3];
  const seconds = BigInt(Date.parse(`${m[1]}${offset}`));
  return seconds * 1000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/**
 * The hash of a whole-row JSON object (row_to_json of audit_events): its canonical COPY text line rebuilt
 * from the parsed values (event-hash.ts).
 */
export function rowHash(row: Row): Buffer {
  // prettier-ignore
  const rest =
    '\t' + copyText(row.organization_id) + '\t' + copyText(row.actor_id) + '\t' + copyText(row.actor_type) +
    '\t' + copyText(row.action) + '\t' + copyText(row.event_type) + '\t' + copyText(row.resource_type) +
    '\t' + copyText(row.resource_id) + '\t' + copyJson(row.before) + '\t' + copyJson(row.after) +
    '\t' + copyJson(row.changes) + '\t' + copyText(row.status) + '\t' + copyInt(row.status_code) +
    '\t' + copyText(row.error_message) + '\t' + copyText(row.severity) + '\t' + copyText(row.request_id) +
    '\t' + copyText(row.ip) + '\t' + copyText(row.user_agent) + '\t' + copyText(row.route) +
    '\t' + copyText(row.method) + '\t' + copyInt(row.duration_ms) + '\t' + copyJson(row.metadata);
  return eventHash(String(row.id), timestampMicros(String(row.occurred_at)), rest);
}

const bytes = (hex: unknown) => Buffer.from(String(hex ?? ''), 'hex');
const byteaHex = (v: unknown) =>
  typeof v === 'string' && v.startsWith('\\x') ? Buffer.from(v.slice(2), 'hex') : null;

function verifierFor(
  chain: ArchiveIntegritySection['chains'][number] | undefined,
  orgKey: string,
  keys: Map<string, KeyObject>,
) {
  const seals: StoredSeal[] = (chain?.seals ?? []).map((s) => ({
    orgKey,
    seq: String(s.seq),
    batchId: String(s.batchId),
    eventCount: Number(s.eventCount),
    firstAtMicros: String(s.firstAtMicros),
    lastAtMicros: String(s.lastAtMicros),
    merkleRoot: bytes(s.merkleRoot),
    prevHash: bytes(s.prevHash),
    sealHash: bytes(s.sealHash),
  }));
  const outside = new Map<string, SealLeaf[]>();
  for (const s of chain?.seals ?? [])
    outside.set(
      String(s.batchId),
      (s.outsideLeaves ?? []).map(([id, hash]) => ({ id, hash: bytes(hash) })),
    );
  const cp = chain?.checkpoint;
  return new ChainVerifier({
    orgKey,
    fromMicros: null,
    toMicros: null,
    seals,
    head: null,
    pendingBatches: new Set(),
    checkpoints: cp
      ? [
          {
            id: String(cp.id),
            orgKey,
            seq: String(cp.seq),
            sealHash: bytes(cp.sealHash),
            signedAt: String(cp.signedAt),
            keyId: String(cp.keyId),
            signature: Buffer.from(String(cp.signature), 'base64'),
          },
        ]
      : [],
    publicKeys: keys,
    eventBatches: new Set((chain?.seals ?? []).filter((s) => s.covers).map((s) => String(s.batchId))),
    outsideLeaves: outside,
    segment: true,
  });
}

/**
 * Verifies a cold archive offline: a gzip NDJSON file of whole rows (row_to_json), the manifest's
 * `integrity` section and the public key(s). Every event's hash, every covered batch's Merkle root (with
 * the leaves kept outside), every link from the first covering seal to the checkpoint, and the
 * checkpoint's signature. A chain without checkpoint fails: nothing would pin it.
 */
export async function verifyArchive(
  ndjsonGzPath: string,
  section: ArchiveIntegritySection,
  publicKeys: Map<string, KeyObject>,
): Promise<VerifyReport> {
  const chains = new Map((section.chains ?? []).map((c) => [c.orgKey, c]));
  const verifiers = new Map<string, ChainVerifier>();
  for (const orgKey of chains.keys())
    verifiers.set(orgKey, verifierFor(chains.get(orgKey), orgKey, publicKeys));
  const lines = createInterface({
    input: createReadStream(ndjsonGzPath).pipe(createGunzip()),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    if (line === '') continue;
    const row = JSON.parse(line) as Row;
    const orgKey = orgKeyOf(text(row.organization_id));
    let verifier = verifiers.get(orgKey);
    if (!verifier) verifiers.set(orgKey, (verifier = verifierFor(undefined, orgKey, publicKeys)));
    verifier.addEvent({
      id: String(row.id),
      occurredAtMicros: timestampMicros(String(row.occurred_at)),
      batchId: text(row.batch_id),
      storedHash: byteaHex(row.event_hash),
      computedHash: rowHash(row),
    });
  }
  const reports: ChainReport[] = [...verifiers.values()].map((v) => v.finish());
  for (const report of reports) {
    if (!report.checkpoint && report.ok && report.checkedSeals > 0) {
      report.ok = false;
      report.problems++;
      report.firstBroken = { kind: 'checkpoint', id: '', reason: 'no signed checkpoint covers this chain' };
    }
  }
  const broken = reports.find((r) => r.firstBroken);
  return {
    ok: !broken,
    from: section.from ?? null,
    to: section.to ?? null,
    checkedEvents: reports.reduce((n, r) => n + r.checkedEvents, 0),
    firstBroken: broken ? { ...broken.firstBroken!, organizationId: broken.organizationId } : null,
    chains: reports,
  };
}
